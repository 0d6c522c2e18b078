// jobssh-bench: the driver of scripts/bench. Starts a fixtures sandbox (fake runner and meta,
// a Docker VM), measures every figure of the benchmark table against its baseline, writes the
// generated part of docs/benchmarks.md and its plots. Exits 1 only when a figure could not
// be measured; a missed goal is a result, not a failure.
//
//   jobssh-bench --users FILE --data DIR --plots DIR --out FILE [--quick] [--verbose]

#include "figures.hpp"
#include "process.hpp"

#include <functional>
#include <iostream>

namespace fs = std::filesystem;
using namespace jobssh::bench;

namespace {

// The job whose VM the connect figures use: finished stepping, VM up, owned by alice.
constexpr const char* vm_jobs = R"({"jobs": [{
  "id": 1, "owner": "alice", "owner_id": 1, "shell": true, "pace_ms": 0,
  "log": ["[#1] Booting image debian/bookworm", "[#1] Sending tasks"],
  "tasks": [{"name": "build", "log": ["+ make", "cc -o hello hello.c"]}],
  "result": "success", "deadline_s": 14400
}]})";

int usage() {
    std::cerr << "usage: jobssh-bench --users FILE --data DIR --plots DIR --out FILE [--quick] "
                 "[--only STEP] [--hold] [--verbose]\n";
    return 64;
}

} // namespace

int main(int argc, char** argv) {
    jobssh::fixtures::sandbox_options options;
    fs::path data, plots, out;
    bool quick = false;
    bool hold = false;
    std::string only; // measure only the figures whose step name contains this // keep the sandbox
                      // up after measuring, for profiling by hand
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--quick")
            quick = true;
        else if (arg == "--only" && i + 1 < argc)
            only = argv[++i];
        else if (arg == "--hold")
            hold = true;
        else if (arg == "--verbose")
            options.verbose = true;
        else if (arg == "--users" && i + 1 < argc)
            options.users_file = argv[++i];
        else if (arg == "--data" && i + 1 < argc)
            data = argv[++i];
        else if (arg == "--plots" && i + 1 < argc)
            plots = argv[++i];
        else if (arg == "--out" && i + 1 < argc)
            out = argv[++i];
        else
            return usage();
    }
    if (options.users_file.empty() || data.empty() || plots.empty() || out.empty())
        return usage();

    try {
        fs::create_directories(data);
        data = fs::absolute(data); // the big log's symlink in buildlogs must resolve anywhere
        write_file((data / "jobs.json").string(), vm_jobs);
        options.jobs_file = data / "jobs.json";
        // The connect figure goes through the front sshd, as a user does; the others run
        // jobssh-shell as sshd runs it.
        options.front_sshd = true;
        options.poll_interval = std::chrono::milliseconds(1000); // jobssh's default
        // jobssh-keys' start-up alone; keys_with_meta measures it with its meta call.
        options.authenticate = "shell";
        // Screens take the direct path, as before recordings; figures with recording on
        // use a config of their own.
        options.jobssh_config = "watch = no\n";
        // jobssh's own linger (10 minutes, as packaged): after a `connect N -- cmd` the VM and
        // the job's master connection to it stay for the next session, as a user's loop
        // finds them.
        options.linger = std::nullopt;
        std::cerr << "jobssh-bench: starting the sandbox\n";
        jobssh::fixtures::sandbox world(options);
        if (world.vm_kind() == "none")
            throw std::runtime_error("the sandbox has no VMs");
        bench_context ctx{world, data, plots, quick, 1};
        ctx.users_file = options.users_file;

        // The VM boots in the background; the direct ssh baseline needs it up.
        auto ready = now_ns() + 120'000'000'000LL;
        while (jobssh::fixtures::sandbox::run(world.vm_ssh_argv(1, "true")).exit_code != 0) {
            if (now_ns() > ready)
                throw std::runtime_error("the VM of job 1 did not answer ssh within 120 s");
            ::usleep(500000);
        }
        // jobssh-shell ends each connect with POST terminate, which would remove the VM: the
        // runner answers it without acting, so every repetition finds the same VM.
        world.runner_fault(R"({"status": 200, "body": "", "match": "POST /job/1/terminate"})");

        std::vector<figure> figures;
        bool all_measured = true;
        auto measure = [&](const std::string& what, const std::function<std::vector<figure>()>& f) {
            if (what.find(only) == std::string::npos)
                return;
            std::cerr << "jobssh-bench: " << what << "\n";
            auto start = now_ns();
            try {
                for (auto& fig : f()) {
                    std::cerr << "  " << fig.name << ": " << fig.result << " [" << fig.verdict
                              << "]\n";
                    figures.push_back(std::move(fig));
                }
            } catch (const std::exception& e) {
                std::cerr << "  could not measure: " << e.what() << "\n";
                figures.push_back(
                    {what, "—", "—", "—", "—", std::string("not measured: ") + e.what(), {}});
                all_measured = false;
            }
            std::cerr << "  (" << fixed((now_ns() - start) / 1e9, 1) << " s)\n";
        };
        measure("jobssh-keys vs cat", [&] { return std::vector{keys_vs_cat(ctx)}; });
        measure("jobssh-keys with meta", [&] { return keys_with_meta(ctx); });
        measure("jobssh-shell's own work", [&] { return std::vector{shell_work_before_ssh(ctx)}; });
        measure("connect N -- true", [&] { return connect_true_vs_ssh(ctx); });
        measure("pty proxy", [&] { return pty_throughput_and_keystrokes(ctx); });
        measure("tail latency", [&] { return tail_latency(ctx); });
        measure("tail of a big finished job", [&] { return tail_big_finished_job(ctx); });
        measure("peak RSS", [&] { return std::vector{peak_rss(ctx)}; });
        measure("concurrent tails", [&] { return std::vector{many_live_tails(ctx)}; });
        measure("gateway", [&] { return gateway_figures(ctx); });
        if (hold) {
            // For a person profiling by hand (docs/benchmarks.md): the sandbox stays until
            // the file is removed.
            auto flag = data / "hold";
            write_file(flag.string(), "");
            std::cerr << "jobssh-bench: holding the sandbox; JOBSSH_CONFIG=" << world.config_file()
                      << " key " << world.public_key_b64("alice") << "; rm " << flag << " to end\n";
            while (fs::exists(flag))
                ::usleep(500000);
        }
        world.runner_fault("{}");

        write_file(out.string(), render_markdown(figures, ctx.plot_files));
        return all_measured ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "jobssh-bench: could not measure: " << e.what() << "\n";
        return 1;
    }
}
