// `ssh … connect N -- true` through the front sshd, as a user runs it, against a direct
// `ssh … true` to the same VM; jobssh-shell alone (as sshd runs it) in the same rounds.

#include "figure_tools.hpp"

#include <unistd.h>

namespace jobssh::bench {

figure connect_true_vs_ssh(bench_context& ctx) {
    auto err = ctx.data / "connect.err";
    auto job = std::to_string(ctx.vm_job);
    spawn_options user{ctx.world.ssh_argv("alice", "connect " + job + " -- true")};
    user.err = open_for_stderr(err);
    spawn_options shell{shell_argv(ctx), {command_env("connect " + job + " -- true")}};
    shell.err = user.err;
    spawn_options direct{ctx.world.vm_ssh_argv(ctx.vm_job, "true")};
    direct.err = user.err;
    int rounds = ctx.quick ? 4 : 20;
    std::vector<double> a, b, c;
    // Rotated rounds (interleaved): no way always runs first, or right after another.
    interleaved(rounds, {timed_way(user, "ssh … connect N -- true", err, a),
                         timed_way(direct, "ssh to the VM", err, b),
                         timed_way(shell, "jobssh-shell connect -- true", err, c)});
    ::close(user.err);
    auto f = ratio_figure("`ssh … connect N -- true` through the front sshd, wall", a, b,
                          "direct `ssh … true`", ms, 3, "≤ 1.10×",
                          [](double ratio) { return ratio <= 1.10; });
    f.details = {
        std::to_string(rounds) +
            " rotated rounds against the same Docker VM. jobssh: the user's `ssh` to the "
            "front sshd, which runs jobssh-shell, which runs `ssh` to the VM: two SSH "
            "handshakes where the direct way has one, as a user pays them today.",
        "added per call: " + ms(median(differences(a, b))) + " (" + spread(differences(a, b), 2) +
            ")",
        "in the same rounds, jobssh-shell alone as sshd runs it (SSH_ORIGINAL_COMMAND, key "
        "argument; no front sshd): " +
            ms(median(c)) + ", " + fixed(median(c) / median(b), 3) +
            "× direct; the front sshd's hop is the rest"};
    return f;
}

} // namespace jobssh::bench
