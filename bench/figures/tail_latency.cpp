// `tail` of a running job: from a write to the log to the line on the reader's stdout.

#include "figure_tools.hpp"

#include <algorithm>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <random>
#include <stdexcept>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;

namespace jobssh::bench {

std::vector<figure> tail_latency(bench_context& ctx) {
    const std::int64_t id = 900;
    ctx.world.add_job(manual_job(id, {"build"}, "running"));
    auto dir = ctx.world.buildlogs() / std::to_string(id);
    fs::create_directories(dir / "build");
    append_to(dir / "log", "start\n");
    auto err = ctx.data / "tail-latency.err";
    spawn_options options{shell_argv(ctx), {command_env("tail " + std::to_string(id))}};
    options.err = open_for_stderr(err);
    auto child = spawn_piped(options);
    ::close(options.err);
    auto& out = *child.out;
    out.wait_line("start", std::chrono::seconds(30));

    std::mt19937 random(6);
    std::uniform_int_distribution<int> gap_us(1000, 4000);
    int lines = ctx.quick ? 60 : 600;
    std::vector<double> line_ms;
    int log =
        ::open((dir / "build" / "log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    for (int i = 0; i < lines; ++i) {
        std::this_thread::sleep_for(std::chrono::microseconds(gap_us(random)));
        auto line = "line " + std::to_string(i) + " cc -O2 -c src/unit" + std::to_string(i) +
                    ".c -o obj/unit" + std::to_string(i) + ".o";
        auto text = line + "\n";
        auto start = now_ns();
        if (::write(log, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
            throw std::runtime_error("cannot write the log");
        line_ms.push_back((out.wait_line("[build] " + line, std::chrono::seconds(10)) - start) /
                          ns_per_ms);
    }
    ::close(log);

    int tasks = ctx.quick ? 5 : 40;
    std::vector<double> task_ms;
    for (int k = 0; k < tasks; ++k) {
        std::this_thread::sleep_for(std::chrono::microseconds(gap_us(random)));
        auto name = "task" + std::to_string(k);
        auto line = "first line of " + name;
        // From the moment the runner creates the task's directory: discovery counts too.
        auto start = now_ns();
        fs::create_directory(dir / name);
        append_to(dir / name / "log", line + "\n");
        task_ms.push_back(
            (out.wait_line("[" + name + "] " + line, std::chrono::seconds(10)) - start) /
            ns_per_ms);
    }
    long live_hwm = status_kib(child.pid, "VmHWM");
    ctx.tail_anon_kib = status_kib(child.pid, "RssAnon");
    finish_job(ctx, id, 1);
    out.read_to_end(std::chrono::seconds(15));
    auto exit = wait_exit_bounded(child.pid, std::chrono::seconds(15));
    require_exit(exit, 0, "jobssh-shell tail", err);
    ctx.tail_rss_kib = std::max(live_hwm, exit.max_rss_kib);

    // No baseline: the goal is a p99 of at most 5 ms.
    auto within_5_ms = [](const std::string& name, const std::vector<double>& samples,
                          const std::string& goal) {
        double p99 = quantile(samples, 0.99);
        return figure{name, "p50 " + ms(median(samples)) + ", p99 " + ms(p99),
                      "—",  "p99 " + ms(p99) + " (max " + ms(quantile(samples, 1)) + ")",
                      goal, p99 <= 5 ? "met" : "missed",
                      {}};
    };
    auto line = within_5_ms("`tail`: a line written to the log → on the reader's stdout", line_ms,
                            "p99 ≤ 5 ms");
    line.details = {std::to_string(lines) +
                    " lines, one write(2) each to a running task's log, "
                    "1–4 ms apart, each waited for on jobssh-shell's stdout (a pipe) before the "
                    "next; jobssh-shell run as sshd runs it, `tail N`."};
    auto first = within_5_ms("`tail`: a new task's first line", task_ms, "≤ 5 ms");
    first.details = {std::to_string(tasks) +
                     " new tasks: time from mkdir of <job>/<task> "
                     "(then the log created and its first line written) to that line on stdout."};
    auto plot = "bench-tail-latency.svg";
    write_cdf_svg((ctx.plots / plot).string(), "tail: log write → line on stdout",
                  {{"line in a running task", "#7570b3", line_ms},
                   {"first line of a new task", "#e7298a", task_ms}});
    ctx.plot_files.push_back(plot);
    return {line, first};
}

} // namespace jobssh::bench
