// Many concurrent `tail` sessions of live jobs: every byte, and the CPU they use idle.

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

figure many_live_tails(bench_context& ctx) {
    int sessions = ctx.quick ? 20 : 200;
    auto limit = std::stoi("0" + read_file("/proc/sys/fs/inotify/max_user_instances"));
    if (limit < sessions + 64)
        throw std::runtime_error("fs.inotify.max_user_instances is " + std::to_string(limit) +
                                 ", too few for " + std::to_string(sessions) +
                                 " tails (scripts/bench raises it)");
    const int rounds = 10;
    auto err = ctx.data / "many-tails.err";
    int err_fd = open_for_stderr(err);
    struct session {
        std::int64_t id;
        fs::path log;
        piped_child child;
        std::string expected;
        exit_info exit;
    };
    std::vector<session> all;
    for (int i = 0; i < sessions; ++i) {
        std::int64_t id = 2000 + i;
        ctx.world.add_job(manual_job(id, {"build"}, "running"));
        auto dir = ctx.world.buildlogs() / std::to_string(id);
        fs::create_directories(dir / "build");
        auto start = "start " + std::to_string(id) + "\n";
        append_to(dir / "log", start);
        append_to(dir / "build" / "log", "");
        spawn_options options{shell_argv(ctx), {command_env("tail " + std::to_string(id))}};
        options.err = err_fd;
        all.push_back({id, dir / "build" / "log", spawn_piped(options), start, {}});
    }
    auto pump = [&](std::chrono::milliseconds for_how_long) {
        auto end = now_ns() + std::chrono::nanoseconds(for_how_long).count();
        std::vector<pollfd> fds;
        do {
            fds.clear();
            for (auto& s : all)
                if (!s.child.out->eof())
                    fds.push_back({s.child.out->fd(), POLLIN, 0});
            if (fds.empty())
                return;
            if (::poll(fds.data(), fds.size(), 20) > 0)
                for (auto& s : all)
                    if (!s.child.out->eof())
                        s.child.out->read_some();
        } while (now_ns() < end);
    };
    auto delivered = [&](const session& s) {
        return s.child.out->buffer().size() >= s.expected.size();
    };
    auto pump_until_delivered = [&](std::chrono::seconds bound) {
        auto end = now_ns() + std::chrono::nanoseconds(bound).count();
        while (now_ns() < end &&
               !std::all_of(all.begin(), all.end(), [&](auto& s) { return delivered(s); }))
            pump(std::chrono::milliseconds(50));
    };
    auto cpu = [&] {
        long long ns = 0;
        for (auto& s : all)
            ns += std::max(0LL, cpu_ns(s.child.pid));
        return ns / 1e9;
    };
    pump_until_delivered(std::chrono::seconds(90));
    auto started = std::count_if(all.begin(), all.end(), delivered);

    auto write_start = now_ns();
    double cpu_before_writes = cpu();
    for (int r = 0; r < rounds; ++r) {
        for (auto& s : all) {
            auto line = "line " + std::to_string(r) + " of job " + std::to_string(s.id) +
                        ": cc -O2 -Wall -c src/module.c -o obj/module.o\n";
            append_to(s.log, line);
            s.expected += "[build] " + line;
        }
        pump(std::chrono::milliseconds(100));
    }
    pump_until_delivered(std::chrono::seconds(60));
    double write_seconds = (now_ns() - write_start) / 1e9;
    double cpu_writes = cpu() - cpu_before_writes;

    // Nothing is written now: what the sessions use is their waiting (and the runner polls).
    const double idle_seconds = 10;
    double cpu_before_idle = cpu();
    auto idle_start = now_ns();
    pump(std::chrono::milliseconds(static_cast<int>(idle_seconds * 1000)));
    double idle_wall = (now_ns() - idle_start) / 1e9;
    double cpu_idle = cpu() - cpu_before_idle;
    long anon_kib = 0, hwm_kib = 0;
    for (auto& s : all) {
        anon_kib += status_kib(s.child.pid, "RssAnon");
        hwm_kib = std::max(hwm_kib, status_kib(s.child.pid, "VmHWM"));
    }

    for (auto& s : all)
        finish_job(ctx, s.id, 1);
    auto end = now_ns() + std::chrono::nanoseconds(std::chrono::seconds(60)).count();
    while (now_ns() < end &&
           !std::all_of(all.begin(), all.end(), [](auto& s) { return s.child.out->eof(); }))
        pump(std::chrono::milliseconds(100));
    int exact = 0;
    std::uint64_t bytes = 0, expected_bytes = 0;
    for (auto& s : all) {
        s.exit = wait_exit_bounded(s.child.pid, std::chrono::seconds(5));
        bytes += s.child.out->total();
        expected_bytes += s.expected.size();
        if (s.child.out->buffer() == s.expected && s.exit.status == 0)
            ++exact;
    }
    ::close(err_fd);
    double idle_core_pct = 100 * cpu_idle / idle_wall;
    bool all_bytes = exact == sessions;
    // "≈ 0": under 5 % of one core for all sessions together while no log is written.
    bool quiet = idle_core_pct < 5;
    figure f{std::to_string(sessions) + " concurrent `tail` sessions of live jobs",
             std::to_string(exact) + "/" + std::to_string(sessions) + " exact; idle CPU " +
                 fixed(idle_core_pct, 2) + " % of a core",
             "—",
             std::to_string(bytes) + " of " + std::to_string(expected_bytes) + " bytes; idle " +
                 fixed(cpu_idle / idle_wall / sessions * 1e6, 0) +
                 " µs of CPU per second per session",
             "every byte; CPU ≈ 0 idle (< 5 % of a core for all)",
             all_bytes && quiet ? "met" : "missed"};
    f.details = {
        std::to_string(sessions) + " jobssh-shell `tail` processes of " + std::to_string(sessions) +
            " running jobs (" + std::to_string(started) + " showed their first line), then " +
            std::to_string(rounds) +
            " rounds of one line to every job's task log 100 ms apart; each session's stdout "
            "compared byte for byte with what was written, after the jobs were marked done",
        "CPU (time on a core of all sessions, /proc/<pid>/schedstat): " + fixed(cpu_writes, 3) +
            " s over the " + fixed(write_seconds, 1) + " s of writing; " + fixed(cpu_idle, 3) +
            " s over " + fixed(idle_wall, 1) +
            " s with no log written (each session still asks the runner for the job's state "
            "once per poll-interval, 1 s: a new HTTP connection and a JSON answer each time)",
        "memory: private (RssAnon) of all " + std::to_string(sessions) + " sessions together " +
            fixed(anon_kib / 1024.0, 1) + " MiB; the largest VmHWM of one " +
            fixed(hwm_kib / 1024.0, 2) + " MiB"};
    return f;
}

} // namespace jobssh::bench
