// `ssh … connect N -- true` through the front sshd, as a user runs it, against a direct
// `ssh … true` to the same VM: warm (riding the job's master connection to the VM, which the
// previous session left with the lingering VM) and cold (the job's master stopped first,
// outside the timed span, so that the session makes it: two handshakes); jobssh-shell alone
// (as sshd runs it, warm) in the same rotated rounds.

#include "figure_tools.hpp"

#include <filesystem>
#include <jobssh/connect/control_master.hpp>
#include <jobssh/connect/session_registry.hpp>
#include <stdexcept>
#include <unistd.h>

namespace jobssh::bench {

std::vector<figure> connect_true_vs_ssh(bench_context& ctx) {
    auto err = ctx.data / "connect.err";
    auto job = std::to_string(ctx.vm_job);
    spawn_options user{ctx.world.ssh_argv("alice", "connect " + job + " -- true")};
    user.err = open_for_stderr(err);
    spawn_options shell{shell_argv_as_sshd_runs_it(ctx),
                        {command_env("connect " + job + " -- true")}};
    shell.err = user.err;
    spawn_options direct{ctx.world.vm_ssh_argv(ctx.vm_job, "true")};
    direct.err = user.err;
    auto socket = job_master_socket(ctx.world.state_dir(), ctx.vm_job);
    if (!socket)
        throw std::runtime_error("the sandbox's state-dir is too long for a master's socket");
    // What earlier figures left of the job's master, made as root (their jobssh-shell runs
    // as the driver does): gone, so that the sessions as sshd runs them make their own.
    stop_master(*socket);
    for (const char* suffix : {".lock", ".pid"})
        std::filesystem::remove(socket->string() + suffix);
    // The first session makes the master; the rounds find it (the VM lingers after each).
    std::vector<double> warm_up;
    timed_way(user, "ssh … connect N -- true (warm-up)", err, warm_up)();
    std::vector<double> warm, baseline, alone, cold;
    int rounds = ctx.quick ? 4 : 20;
    // Rotated rounds (interleaved): no way always runs first, or right after another.
    interleaved(rounds, {timed_way(user, "ssh … connect N -- true", err, warm),
                         timed_way(direct, "ssh to the VM", err, baseline),
                         timed_way(shell, "jobssh-shell connect -- true", err, alone), [&] {
                             stop_master(*socket); // untimed: the session finds none
                             std::vector<double> one;
                             timed_way(user, "ssh … connect N -- true (cold)", err, one)();
                             cold.push_back(one.front());
                         }});
    ::close(user.err);
    auto warm_figure = ratio_figure("`ssh … connect N -- true` through the front sshd, warm, wall",
                                    warm, baseline, "direct `ssh … true`", ms, 3, "≤ 1.10×",
                                    [](double ratio) { return ratio <= 1.10; });
    warm_figure.details = {
        std::to_string(rounds) +
            " rotated rounds against the same Docker VM, jobssh's defaults ([jobssh] multiplex "
            "= yes, linger 10 minutes). jobssh: the user's `ssh` to the front sshd, which runs "
            "jobssh-shell, whose `ssh` to the VM rides the job's master connection, left by the "
            "previous session with the lingering VM: one SSH handshake, as the direct way.",
        "added per call: " + median_ms(differences(warm, baseline)),
        "in the same rounds, jobssh-shell alone as sshd runs it (SSH_ORIGINAL_COMMAND, key "
        "argument; no front sshd): " +
            ms(median(alone)) + ", " + fixed(median(alone) / median(baseline), 3) +
            "× direct; the front sshd's hop is the rest"};
    auto cold_figure = ratio_figure("`ssh … connect N -- true` through the front sshd, cold, wall",
                                    cold, baseline, "direct `ssh … true`", ms, 3, "≤ 2.0×",
                                    [](double ratio) { return ratio <= 2.0; });
    cold_figure.details = {
        "In the same rounds, the job's master stopped first (outside the timed span): the "
        "session makes the master (the handshake to the VM) and rides it, as the first session "
        "of a job does; two SSH handshakes where the direct way has one.",
        "added per call: " + median_ms(differences(cold, baseline))};
    return {warm_figure, cold_figure};
}

} // namespace jobssh::bench
