// The interactive pty proxy: bytes/s of a big `cat`, and the keystroke round trip.

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

namespace {

// jobssh-shell with the sandbox's config but sessions recorded (and watchable): the
// sandbox's own has `watch = no`, so that its sessions keep the direct screen path.
std::vector<std::string> recording_shell_argv(const bench_context& ctx) {
    auto recorded = ctx.data / "recording.ini";
    std::string text = read_file(ctx.world.config_file().string());
    auto at = text.find("watch = no\n");
    if (at == std::string::npos)
        throw std::runtime_error("the sandbox's config does not say watch = no");
    text.replace(at, 11, "watch = yes\nrecordings = " + (ctx.data / "recordings").string() + "\n");
    write_file(recorded.string(), text);
    return {JOBSSH_SHELL_PROGRAM, "--config", recorded.string(), ctx.world.public_key_b64("alice")};
}

} // namespace

std::vector<figure> pty_throughput_and_keystrokes(bench_context& ctx) {
    auto job = std::to_string(ctx.vm_job);
    std::size_t raw = ctx.quick ? (3u << 20) : (12u << 20);
    auto made = fixtures::sandbox::run(ctx.world.vm_ssh_argv(
        ctx.vm_job, "head -c " + std::to_string(raw) +
                        " /dev/urandom | base64 -w 99 > /tmp/bench-big && wc -c < /tmp/bench-big"));
    if (made.exit_code != 0)
        throw std::runtime_error("cannot write the big file on the VM: " + made.err);
    double file_bytes = std::stod(made.out);

    auto direct_argv = ctx.world.vm_ssh_argv(ctx.vm_job, "bash");
    std::replace(direct_argv.begin(), direct_argv.end(), std::string("-T"), std::string("-t"));
    pty_session through(shell_argv(ctx), {command_env("connect " + job), "TERM=xterm"});
    pty_session direct(direct_argv, {"TERM=xterm"});
    // The floor of any pty proxy: util-linux's script(1) relaying to the same ssh -t.
    std::string quoted;
    for (const auto& word : direct_argv)
        quoted += (quoted.empty() ? "'" : " '") + word + "'";
    pty_session proxy({"script", "-q", "-f", "-e", "-c", quoted, "/dev/null"}, {"TERM=xterm"});
    // The same connect with the session recorded: the screen passes through jobssh.
    pty_session recorded(recording_shell_argv(ctx), {command_env("connect " + job), "TERM=xterm"});
    for (auto* s : {&through, &direct, &proxy, &recorded}) {
        // What is typed before the VM's shell starts is discarded (docs/design.md): the
        // prompt first.
        s->expect("$ ", std::chrono::seconds(60));
        s->send("echo RE''ADY\n");
        s->expect("READY", std::chrono::seconds(60));
        s->drain(std::chrono::milliseconds(200));
    }

    auto throughput = [&](pty_session& s) {
        s.drain(std::chrono::milliseconds(50));
        auto start = now_ns();
        s.send("cat /tmp/bench-big; echo BENCH''END\n");
        s.expect("BENCHEND", std::chrono::seconds(180));
        return file_bytes / ((now_ns() - start) / 1e9);
    };
    int reps = ctx.quick ? 3 : 25;
    std::vector<double> ta, tb, tc, tr;
    interleaved(reps, {[&] { ta.push_back(throughput(through)); },
                       [&] { tb.push_back(throughput(direct)); },
                       [&] { tc.push_back(throughput(proxy)); },
                       [&] { tr.push_back(throughput(recorded)); }});

    auto keystrokes = [&](pty_session& s, std::vector<double>& into, int count) {
        s.drain(std::chrono::milliseconds(30));
        for (int k = 0; k < count; ++k) {
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
            auto start = now_ns();
            s.send("a");
            into.push_back(s.await_byte('a', start, std::chrono::seconds(10)) / ns_per_ms);
        }
        s.send("\x15"); // readline's kill-line: the prompt is empty again
    };
    int rounds = ctx.quick ? 3 : 40;
    std::vector<double> ka, kb, kc, kr;
    interleaved(rounds,
                {[&] { keystrokes(through, ka, 20); }, [&] { keystrokes(direct, kb, 20); },
                 [&] { keystrokes(proxy, kc, 20); }, [&] { keystrokes(recorded, kr, 20); }});

    // A watcher of the recorded session: each keystroke's echo on the watcher's screen,
    // against the same echo on the session's own screen.
    pty_session watcher(recording_shell_argv(ctx), {command_env("watch " + job), "TERM=xterm"});
    watcher.expect("q or Ctrl-C leaves.", std::chrono::seconds(30));
    watcher.drain(std::chrono::milliseconds(200));
    std::vector<double> lag;
    for (int k = 0; k < (ctx.quick ? 60 : 800); ++k) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        auto start = now_ns();
        recorded.send("a");
        auto on_screen = recorded.await_byte('a', start, std::chrono::seconds(10));
        auto watched = watcher.await_byte('a', start, std::chrono::seconds(10));
        lag.push_back((watched - on_screen) / ns_per_ms);
        if (k % 20 == 19) {
            recorded.send("\x15");
            watcher.drain(std::chrono::milliseconds(20));
        }
    }
    recorded.send("\x15");
    watcher.send("q");
    auto recorded_end = recorded.finish(std::chrono::seconds(20));
    if (recorded_end.status != 0)
        throw std::runtime_error("recorded jobssh-shell connect exited " +
                                 std::to_string(recorded_end.status));
    ctx.connect_rss_kib = status_kib(through.pid(), "VmHWM");
    ctx.connect_anon_kib = status_kib(through.pid(), "RssAnon");
    auto ea = through.finish(std::chrono::seconds(20));
    direct.finish(std::chrono::seconds(20));
    proxy.finish(std::chrono::seconds(20));
    if (ea.status != 0)
        throw std::runtime_error("interactive jobssh-shell connect exited " +
                                 std::to_string(ea.status));

    auto bytes = ratio_figure(
        "bytes/s of the screen in an interactive connect (ssh writes it, not jobssh)", ta, tb,
        "direct `ssh -t`", mib_s, 3, "≥ 0.95×", [](double ratio) { return ratio >= 0.95; });
    bytes.details = {
        std::to_string(reps) +
            " interleaved rounds (jobssh, direct, script; each round starting "
            "with the next of the three) of `cat` of a " +
            fixed(file_bytes / 1048576, 1) +
            " MiB text file on the VM inside an interactive bash; time from Enter to the "
            "sentinel echoed after it; both sessions on a pty the driver owns (80×24).",
        "jobssh: `jobssh-shell` (command `connect N`) on the pty; its `ssh -t … bash` has "
        "jobssh's own pty as its terminal and writes the screen to the driver's pty itself; "
        "direct: `ssh -t … bash` on the pty.",
        "for comparison, a proxy that passes the screen's bytes on itself, run in the same "
        "rounds: util-linux `script -q -f -e -c 'ssh -t … bash'`: " +
            mib_s(median(tc)) + ", " + fixed(median(tc) / median(tb), 3) + "× direct"};

    // Added: the quantiles of the paired differences (keystroke k of a round through jobssh
    // minus keystroke k of the same round direct), not a difference of two quantiles, which
    // can hide a slow tail of jobssh behind one of direct's.
    auto added = differences(ka, kb);
    double p50 = median(added);
    double p99 = quantile(added, 0.99);
    figure keys{"keystroke round trip added (byte in → echo out)",
                "p50 " + ms(median(ka)) + ", p99 " + ms(quantile(ka, 0.99)),
                "direct `ssh -t`: p50 " + ms(median(kb)) + ", p99 " + ms(quantile(kb, 0.99)),
                "added p50 " + ms(p50) + ", p99 " + ms(p99),
                "p99 ≤ 0.2 ms added",
                p99 <= 0.2 ? "met" : "missed"};
    keys.details = {
        std::to_string(ka.size()) +
            " keystrokes each way, in rotated rounds of 20 per session (each round starting "
            "with the next session), 2 ms apart; the echo is bash's readline on the VM. "
            "Added = p50 and p99 of the per-keystroke differences, keystroke k of a round "
            "through jobssh against keystroke k of the same round direct.",
        "spread (p25–p75): jobssh " + spread(ka, 3) + " ms, direct " + spread(kb, 3) + " ms",
        "a proxy that passes both ways on itself, in the same rounds: `script -c 'ssh -t …'` "
        "adds "
        "p50 " +
            ms(median(differences(kc, kb))) + ", p99 " + ms(quantile(differences(kc, kb), 0.99)) +
            " (its p50 " + ms(median(kc)) + ", p99 " + ms(quantile(kc, 0.99)) + ")"};
    auto plot = "bench-keystroke.svg";
    write_cdf_svg((ctx.plots / plot).string(), "Keystroke round trip (byte in → echo out)",
                  {{"through jobssh", "#d95f02", ka},
                   {"direct ssh -t", "#1b9e77", kb},
                   {"through script(1)", "#7570b3", kc}});
    ctx.plot_files.push_back(plot);

    auto recorded_bytes =
        ratio_figure("bytes/s through jobssh, session recorded", tr, tb, "direct `ssh -t`", mib_s,
                     3, "≥ 0.90×", [](double ratio) { return ratio >= 0.90; });
    recorded_bytes.details = {
        "the same rounds as the figure above, a fourth session in each: `jobssh-shell` "
        "(command `connect N`) with `[jobssh] recordings` set, so ssh's stdout is a pipe that "
        "jobssh reads and writes on to the pty and, as asciicast events, to the recording",
        "the sandbox's own config, used by every other figure, has `watch = no`: those "
        "sessions keep the direct screen path"};
    auto recorded_added = differences(kr, kb);
    double recorded_p99 = quantile(recorded_added, 0.99);
    figure recorded_keys{"keystroke round trip added, session recorded",
                         "p50 " + ms(median(kr)) + ", p99 " + ms(quantile(kr, 0.99)),
                         "direct `ssh -t`: p50 " + ms(median(kb)) + ", p99 " +
                             ms(quantile(kb, 0.99)),
                         "added p50 " + ms(median(recorded_added)) + ", p99 " + ms(recorded_p99),
                         "p99 ≤ 0.3 ms added",
                         recorded_p99 <= 0.3 ? "met" : "missed"};
    recorded_keys.details = {std::to_string(kr.size()) +
                             " keystrokes, in the rounds of the keystroke figure above; added as "
                             "there, per-keystroke paired differences"};
    figure watcher_lag{"a watcher's lag (echo on the session's screen → on the watcher's)",
                       "p50 " + ms(median(lag)) + ", p99 " + ms(quantile(lag, 0.99)),
                       "—",
                       "p99 " + ms(quantile(lag, 0.99)) + " (max " + ms(quantile(lag, 1.0)) + ")",
                       "p99 ≤ 10 ms",
                       quantile(lag, 0.99) <= 10 ? "met" : "missed"};
    watcher_lag.details = {
        std::to_string(lag.size()) +
        " keystrokes into the recorded session, 2 ms apart; `watch N` (jobssh-shell) on a pty "
        "of its own follows the session's file (inotify); the lag is the echo's time on the "
        "watcher's pty minus its time on the session's pty"};
    return {bytes, keys, recorded_bytes, recorded_keys, watcher_lag};
}

} // namespace jobssh::bench
