// jobssh-shell's own work between its exec and the start of its ssh child.

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

figure shell_work_before_ssh(bench_context& ctx) {
    auto stub_dir = ctx.data / "stub-bin";
    fs::create_directories(stub_dir);
    fs::copy_file(JOBSSH_BENCH_SSH_STUB, stub_dir / "ssh", fs::copy_options::overwrite_existing);
    auto stamp = stub_dir / "stamp";
    const char* path = std::getenv("PATH");
    auto err = ctx.data / "shell-work.err";
    auto job = std::to_string(ctx.vm_job);
    spawn_options shell{shell_argv(ctx),
                        {command_env("connect " + job + " -- true"),
                         "PATH=" + stub_dir.string() + ":" + (path ? path : "/usr/bin:/bin")}};
    shell.err = open_for_stderr(err);
    spawn_options stub{{(stub_dir / "ssh").string()}};

    std::vector<double> a, b, c, cpu_a, cpu_b;
    // jobssh-shell doing no work (usage): its own process start and exit, for the split.
    spawn_options usage{shell_argv(ctx), {command_env("help")}};
    auto started = [&](const spawn_options& options, const std::string& what,
                       std::vector<double>& wall, std::vector<double>& cpu) {
        fs::remove(stamp);
        auto start = now_ns();
        auto exit = wait_exit(spawn(options));
        require_exit(exit, 0, what, err);
        auto text = read_file(stamp.string());
        if (text.empty())
            throw std::runtime_error(what + " did not start the ssh stub");
        wall.push_back((std::stoll(text) - start) / ns_per_ms);
        cpu.push_back(exit.cpu_seconds * 1000);
    };
    int pairs = ctx.quick ? 6 : 40;
    interleaved(pairs,
                {[&] { started(shell, "jobssh-shell connect -- true (ssh stub)", a, cpu_a); },
                 [&] { started(stub, "the ssh stub", b, cpu_b); },
                 timed_way(usage, "jobssh-shell help", err, c)});
    ::close(shell.err);
    auto own = differences(a, b);
    double added = median(own);
    figure f{"jobssh-shell's own work before the ssh child starts",
             ms(median(a)) + " exec→ssh",
             "exec of the stub alone: " + ms(median(b)),
             ms(added) + " (" + spread(own, 2) + ")",
             "≤ 3 ms",
             added <= 3 ? "met" : "missed"};
    f.details = {
        std::to_string(pairs) +
            " interleaved pairs. A: from fork of `jobssh-shell` (command "
            "`connect N -- true`) to the first instruction of an `ssh` stub found first in PATH, "
            "which writes CLOCK_MONOTONIC to a file and exits 0. B: fork of the stub itself to the "
            "same point (the exec floor). Result = A − B per pair: jobssh-shell's process start, "
            "config, runner and meta calls, claim, the VM port probe and its spawn of ssh.",
        "The runner's terminate answer is stubbed (fault injection) so the VM stays up between "
        "runs; jobssh-shell still sends it after the stub exits, outside the measured span.",
        "in the same rounds, `jobssh-shell` printing its usage (no config, no network), fork to "
        "wait4: " +
            ms(median(c)) + " median: the part of A − B that is starting the program at all",
        "CPU time (getrusage, user+system) of the whole `connect N -- true` of jobssh-shell, "
        "stub subtracted: " +
            ms(median(differences(cpu_a, cpu_b))) +
            " median; wall above "
            "minus CPU is time spent waiting: for the runner and meta, and for a core when the "
            "machine is busy"};
    return f;
}

} // namespace jobssh::bench
