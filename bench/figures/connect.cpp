// `connect N -- true` against a direct `ssh … true` to the same VM.

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

figure connect_true_vs_ssh(bench_context& ctx) {
    auto err = ctx.data / "connect.err";
    auto job = std::to_string(ctx.vm_job);
    spawn_options shell{shell_argv(ctx), {command_env("connect " + job + " -- true")}};
    shell.err = open_for_stderr(err);
    spawn_options direct{ctx.world.vm_ssh_argv(ctx.vm_job, "true")};
    direct.err = shell.err;
    int pairs = ctx.quick ? 4 : 20;
    std::vector<double> a, b;
    interleaved(pairs, {timed_way(direct, "ssh to the VM", err, b),
                        timed_way(shell, "jobssh-shell connect -- true", err, a)});
    ::close(shell.err);
    auto f = ratio_figure("`connect N -- true`, wall", a, b, "direct `ssh … true`", ms, 3,
                          "≤ 1.10×", [](double ratio) { return ratio <= 1.10; });
    f.details = {std::to_string(pairs) +
                     " interleaved pairs against the same Docker VM. "
                     "jobssh-shell is run as sshd runs it (SSH_ORIGINAL_COMMAND, key argument), "
                     "without the front sshd hop, which is the same for both ways in.",
                 "added per call: " + ms(median(differences(a, b))) + " (" +
                     spread(differences(a, b), 2) + ")"};
    return f;
}

} // namespace jobssh::bench
