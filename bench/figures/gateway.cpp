// The gateway's figures: what the hop through a gateway adds to a session (`connect N --
// true` and the keystroke round trip, against the same through the runner's own sshd,
// interleaved), and how the job lookup's fan-out grows with the number of runners (2, 10
// and 50 fake runners, no VMs), so that docs/operators.md can say how far one gateway goes.

#include "child_process.hpp"
#include "figure_tools.hpp"
#include "figures.hpp"
#include "process.hpp"
#include "ssh_client.hpp"

#include <iostream>
#include <sandbox.hpp>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;

namespace jobssh::bench {

namespace {

fixtures::sandbox_options fleet_options(const bench_context& ctx, std::size_t runners, bool vms) {
    fixtures::sandbox_options options;
    options.users_file = ctx.users_file;
    options.runners = runners;
    options.vms = vms;
    options.front_sshd = vms; // the lookup alone needs no sshd
    options.poll_interval = std::chrono::milliseconds(1000);
    options.linger = std::nullopt; // jobssh's own: the VM and its master stay between sessions
    return options;
}

// A job done stepping on runner 1 whose VM answers; the runner answers its terminate
// without acting, so that every repetition finds the same VM.
std::int64_t lasting_vm_job(fixtures::sandbox& fleet) {
    auto job = fleet.add_job(R"({"owner": "alice", "owner_id": 1, "shell": true})", 1);
    auto ready = now_ns() + 120'000'000'000LL;
    while (!fleet.vm_running(job, 1) ||
           !fixtures::port_accepts(fleet.vm_port(job, 1), fleet.runner_address(1))) {
        if (now_ns() > ready)
            throw std::runtime_error("the VM of the gateway's job did not come up within 120 s");
        ::usleep(200000);
    }
    fleet.runner_fault(R"({"status": 200, "body": "", "match": "POST /job/)" + std::to_string(job) +
                           R"(/terminate"})",
                       1);
    return job;
}

figure connect_true_through_gateway(const bench_context& ctx, fixtures::sandbox& fleet,
                                    std::int64_t job) {
    auto command = "connect " + std::to_string(job) + " -- true";
    spawn_options through{fleet.ssh_argv("alice", command)};
    spawn_options runner{fleet.runner_ssh_argv(1, "alice", command)};
    // The user's baseline: a direct ssh to the VM, which listens on its runner's address.
    auto vm = fixtures::ssh_client_argv(fleet.vm_identity(), fleet.vm_port(job, 1));
    vm.insert(vm.end(), {"-T", fleet.vm_user() + "@" + fleet.runner_address(1), "true"});
    spawn_options direct{vm};
    const auto err = ctx.data / "gateway.err";
    through.err = open_for_stderr(err);
    runner.err = direct.err = through.err;
    // Warm: the gateway's master to the runner and the runner's to the VM are made here.
    for (auto* way : {&through, &direct})
        if (run_timed(*way).exit.status != 0)
            throw std::runtime_error("the gateway's warm-up run failed");
    int rounds = ctx.quick ? 4 : 20;
    std::vector<double> a, b, c;
    // Rotated rounds: none of the three always runs first.
    interleaved(rounds, {timed_way(through, "connect -- true through the gateway", err, a),
                         timed_way(direct, "direct ssh to the VM", err, b),
                         timed_way(runner, "connect -- true on the runner's own sshd", err, c)});
    ::close(through.err);
    // Alike on purpose, connect.cpp's warm figure and this (`duplicates` lists the two): the
    // ratio against a direct ssh and its goal, then the rounds and what each way went through.
    auto f = ratio_figure("`connect N -- true` through the gateway, warm, wall", a, b,
                          "direct `ssh … true` to the VM", ms, 3, "≤ 1.15×",
                          [](double ratio) { return ratio <= 1.15; });
    f.details = {
        std::to_string(rounds) +
            " rotated rounds of a real `ssh` to the gateway sshd, a direct `ssh` to the VM on "
            "runner 1, and `ssh` to the runner's own sshd, the same job and VM, jobssh's "
            "defaults (multiplex, linger 10 minutes). Warm: the gateway's hop rides its master "
            "to the runner and the runner's session its master to the VM, so the user pays one "
            "SSH handshake (to the gateway), its job lookup (2 runners) and two channel opens.",
        "the runner's own sshd in the same rounds: " + ms(median(c)) + "; the gateway adds " +
            median_ms(differences(a, c)) + " to it"};
    return f;
}

figure keystrokes_through_gateway(const bench_context& ctx, fixtures::sandbox& fleet,
                                  std::int64_t job) {
    auto command = "connect " + std::to_string(job);
    pty_session through(fleet.ssh_argv("alice", command, true), {"TERM=xterm"});
    pty_session direct(fleet.runner_ssh_argv(1, "alice", command, true), {"TERM=xterm"});
    for (auto* s : {&through, &direct}) {
        // What is typed before the VM's shell starts is discarded (docs/design.md): the
        // prompt first.
        s->expect("$ ", std::chrono::seconds(60));
        s->send("echo RE''ADY\n");
        s->expect("READY", std::chrono::seconds(60));
        s->drain(std::chrono::milliseconds(200));
    }
    auto keystrokes = [](pty_session& s, std::vector<double>& into, int count) {
        s.drain(std::chrono::milliseconds(30));
        for (int k = 0; k < count; ++k) {
            ::usleep(2000);
            auto start = now_ns();
            s.send("a");
            into.push_back(static_cast<double>(s.await_byte('a', start, std::chrono::seconds(10))) /
                           1e6);
        }
        s.send("\x15"); // readline's kill-line: the prompt is empty again
    };
    int rounds = ctx.quick ? 3 : 30;
    std::vector<double> a, b;
    for (int r = 0; r < rounds; ++r) {
        keystrokes(through, a, 20);
        keystrokes(direct, b, 20);
    }
    through.finish(std::chrono::seconds(20));
    direct.finish(std::chrono::seconds(20));
    figure f{"keystroke round trip through the gateway",
             "p50 " + ms(median(a)) + ", p99 " + ms(quantile(a, 0.99)),
             "the runner's own sshd: p50 " + ms(median(b)) + ", p99 " + ms(quantile(b, 0.99)),
             "added p50 " + ms(median(a) - median(b)) + ", p99 " +
                 ms(quantile(a, 0.99) - quantile(b, 0.99)),
             "reported",
             "measured"};
    f.details = {std::to_string(a.size()) +
                 " keystrokes each way in rounds of 20 alternating between an interactive "
                 "`connect` through the gateway and one straight to the runner, 2 ms apart; "
                 "the echo is bash's readline on the VM. Through the gateway a byte takes one "
                 "more SSH connection and pty each way."};
    return f;
}

// jobssh-shell asked about a job no runner has (66 after every runner said 404), as the
// gateway's sshd runs it, against the same on one runner without a gateway.
std::vector<double> lookup_times(const fixtures::sandbox& fleet, const fs::path& config,
                                 std::vector<double>* direct, int reps) {
    spawn_options gateway{{JOBSSH_SHELL_PROGRAM, "--config", config.string(), "--owner", "alice",
                           fleet.public_key_b64("alice")},
                          {"SSH_ORIGINAL_COMMAND=tail 999999"}};
    spawn_options alone = gateway;
    alone.argv[2] = fleet.runner_config_file(0).string();
    std::vector<double> times;
    for (int i = 0; i < reps; ++i) {
        auto run = run_timed(gateway);
        if (run.exit.status != 66)
            throw std::runtime_error("the gateway's lookup exited " +
                                     std::to_string(run.exit.status) + ", not 66");
        times.push_back(static_cast<double>(run.wall_ns) / 1e6);
        if (direct) {
            auto one = run_timed(alone);
            if (one.exit.status != 66)
                throw std::runtime_error("one runner's lookup exited " +
                                         std::to_string(one.exit.status) + ", not 66");
            direct->push_back(static_cast<double>(one.wall_ns) / 1e6);
        }
    }
    return times;
}

} // namespace

std::vector<figure> gateway_figures(bench_context& ctx) {
    std::vector<figure> figures;
    {
        std::cerr << "jobssh-bench: starting a fleet of 2 runners behind a gateway\n";
        fixtures::sandbox fleet(fleet_options(ctx, 2, true));
        auto job = lasting_vm_job(fleet);
        figures.push_back(connect_true_through_gateway(ctx, fleet, job));
        figures.push_back(keystrokes_through_gateway(ctx, fleet, job));
    }
    int reps = ctx.quick ? 5 : 30;
    std::vector<std::string> medians;
    std::vector<double> one_runner, fifty;
    for (std::size_t runners : {2u, 10u, 50u}) {
        std::cerr << "jobssh-bench: the lookup over " << runners << " fake runners\n";
        fixtures::sandbox fleet(fleet_options(ctx, runners, false));
        auto times =
            lookup_times(fleet, fleet.config_file(), runners == 2 ? &one_runner : nullptr, reps);
        medians.push_back(std::to_string(runners) + " runners: " + median_ms(times));
        if (runners == 50)
            fifty = times;
    }
    figure lookup{"the gateway's job lookup (jobssh-shell to exit 66), 50 runners",
                  ms(median(fifty)),
                  "one runner, no gateway: " + ms(median(one_runner)),
                  "+" + ms(median(fifty) - median(one_runner)),
                  "reported",
                  "measured"};
    lookup.details = {
        "jobssh-shell as the gateway's sshd runs it (--owner: no meta call), asked about a job "
        "no runner has, so that every runner answers 404 and the session ends with 66 right "
        "after the fan-out; " +
            std::to_string(reps) +
            " runs per fleet of fake runners on their own loopback "
            "addresses.",
        medians[0] + "; " + medians[1] + "; " + medians[2]};
    figures.push_back(lookup);
    return figures;
}

} // namespace jobssh::bench
