#include "figures.hpp"

#include "process.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <random>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;

namespace jobssh::bench {

namespace {

constexpr double ns_per_ms = 1e6;

std::vector<std::string> shell_argv(const bench_context& ctx) {
    return {JOBSSH_SHELL_PROGRAM, "--config", ctx.world.config_file().string(),
            ctx.world.public_key_b64("alice")};
}

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

std::string command_env(const std::string& command) {
    return "SSH_ORIGINAL_COMMAND=" + command;
}

int open_for_stderr(const fs::path& path) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        throw std::runtime_error("cannot open " + path.string());
    return fd;
}

std::string last_lines(const fs::path& path) {
    auto text = read_file(path.string());
    return text.size() > 600 ? text.substr(text.size() - 600) : text;
}

void require_exit(const exit_info& exit, int expected, const std::string& what,
                  const fs::path& err) {
    if (exit.status != expected)
        throw std::runtime_error(what + " exited " + std::to_string(exit.status) + " (expected " +
                                 std::to_string(expected) + "); stderr: " + last_lines(err));
}

std::string ms(double v) {
    return fixed(v, v < 1 ? 3 : 2) + " ms";
}

std::string mib_s(double bytes_per_s) {
    return fixed(bytes_per_s / (1024.0 * 1024.0), 0) + " MiB/s";
}

// getrusage counts in clock ticks on some kernels: a mean over many runs is still exact.
double mean(const std::vector<double>& v) {
    double sum = 0;
    for (double x : v)
        sum += x;
    return v.empty() ? 0 : sum / static_cast<double>(v.size());
}

std::vector<double> ratios(const std::vector<double>& a, const std::vector<double>& b) {
    std::vector<double> r;
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i)
        r.push_back(a[i] / b[i]);
    return r;
}

std::vector<double> differences(const std::vector<double>& a, const std::vector<double>& b) {
    std::vector<double> d;
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i)
        d.push_back(a[i] - b[i]);
    return d;
}

// Stdout of a program we read ourselves, line by line, as it comes.
class pipe_reader {
public:
    explicit pipe_reader(int fd)
        : fd_(fd) {
        ::fcntl(fd_, F_SETFL, O_NONBLOCK);
    }
    ~pipe_reader() { ::close(fd_); }
    pipe_reader(const pipe_reader&) = delete;
    pipe_reader& operator=(const pipe_reader&) = delete;

    // Reads until the whole line `line` (without its newline) has come; returns the
    // monotonic time of the read that completed it.
    std::int64_t wait_line(const std::string& line, std::chrono::milliseconds bound) {
        auto needle = line + "\n";
        auto end = now_ns() + std::chrono::nanoseconds(bound).count();
        for (;;) {
            if (auto at = buffer_.find(needle); at != std::string::npos) {
                buffer_.erase(0, at + needle.size());
                return last_read_;
            }
            if (eof_)
                throw std::runtime_error("output ended before \"" + line + "\"");
            auto left = (end - now_ns()) / 1000000;
            if (left <= 0)
                throw std::runtime_error(
                    "\"" + line + "\" did not come in time; have: " + buffer_.substr(0, 300));
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left)) > 0)
                read_some();
        }
    }

    // Reads what is there now; false at end of file.
    bool read_some() {
        char chunk[65536];
        for (;;) {
            ssize_t n = ::read(fd_, chunk, sizeof chunk);
            if (n > 0) {
                last_read_ = now_ns();
                buffer_.append(chunk, static_cast<std::size_t>(n));
                total_ += static_cast<std::uint64_t>(n);
                continue;
            }
            if (n == 0)
                eof_ = true;
            else if (errno == EINTR)
                continue;
            return !eof_;
        }
    }

    void read_to_end(std::chrono::milliseconds bound) {
        auto end = now_ns() + std::chrono::nanoseconds(bound).count();
        while (!eof_ && now_ns() < end) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 50) > 0)
                read_some();
        }
    }

    int fd() const { return fd_; }
    bool eof() const { return eof_; }
    std::string& buffer() { return buffer_; }
    std::uint64_t total() const { return total_; }

private:
    int fd_;
    std::string buffer_;
    std::int64_t last_read_ = 0;
    std::uint64_t total_ = 0;
    bool eof_ = false;
};

struct piped_child {
    pid_t pid;
    std::unique_ptr<pipe_reader> out;
};

piped_child spawn_piped(spawn_options options) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    options.out = fds[1];
    pid_t pid = spawn(options);
    ::close(fds[1]);
    return {pid, std::make_unique<pipe_reader>(fds[0])};
}

void append_to(const fs::path& file, const std::string& text) {
    int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
        throw std::runtime_error("cannot append to " + file.string());
    ::close(fd);
}

std::string manual_job(std::int64_t id, const std::vector<std::string>& tasks,
                       const std::string& status) {
    std::string list;
    for (const auto& t : tasks)
        list += (list.empty() ? "" : ",") + std::string("{\"name\":\"") + t + "\"}";
    return "{\"id\":" + std::to_string(id) +
           ",\"owner\":\"alice\",\"owner_id\":1,\"manual\":true,\"status\":\"" + status +
           "\",\"tasks\":[" + list + "]}";
}

void finish_job(bench_context& ctx, std::int64_t id, int tasks) {
    auto n = std::to_string(tasks);
    ctx.world.set_job(id, "{\"status\":\"success\",\"task\":" + n + ",\"tasks\":" + n + "}");
}

} // namespace

figure keys_vs_cat(bench_context& ctx) {
    auto pub = read_file(ctx.world.private_key("alice").string() + ".pub");
    auto type = pub.substr(0, pub.find(' '));
    auto err = ctx.data / "keys.err";
    spawn_options keys{{JOBSSH_KEYS_PROGRAM, "--config", ctx.world.config_file().string(),
                        ctx.world.login_user(), "/nonexistent", type,
                        ctx.world.public_key_b64("alice")}};
    keys.err = open_for_stderr(err);
    std::string line;
    auto first = run_counting(keys, &line);
    require_exit(first.exit, 0, "jobssh-keys", err);
    if (line.find("command=") == std::string::npos)
        throw std::runtime_error("jobssh-keys printed no forced command: " + line);
    auto authorized_keys = ctx.data / "authorized_keys";
    write_file(authorized_keys.string(), line);
    spawn_options cat{{"cat", authorized_keys.string()}};

    int pairs = ctx.quick ? 40 : 400;
    std::vector<double> a, b, cpu_a, cpu_b;
    for (int i = 0; i < pairs; ++i) {
        // Alternate which one goes first, so that neither always runs on a warmer cache.
        timed_run ra, rb;
        if (i % 2 == 0) {
            ra = run_timed(keys);
            rb = run_timed(cat);
        } else {
            rb = run_timed(cat);
            ra = run_timed(keys);
        }
        require_exit(ra.exit, 0, "jobssh-keys", err);
        require_exit(rb.exit, 0, "cat", err);
        a.push_back(ra.wall_ns / ns_per_ms);
        b.push_back(rb.wall_ns / ns_per_ms);
        cpu_a.push_back(ra.exit.cpu_seconds * 1000);
        cpu_b.push_back(rb.exit.cpu_seconds * 1000);
    }
    ::close(keys.err);
    double ratio = median(a) / median(b);
    figure f{"`jobssh-keys` wall time per call",
             ms(median(a)),
             "`cat`: " + ms(median(b)),
             fixed(ratio, 2) + "× (" + spread(ratios(a, b), 2) + ")",
             "≤ 1.5×",
             ratio <= 1.5 ? "met" : "missed"};
    f.details = {std::to_string(pairs) + " interleaved pairs, fork+exec to wait4, output to "
                                         "/dev/null; `cat` prints the same line from a file",
                 "p90: jobssh-keys " + ms(quantile(a, 0.9)) + ", cat " + ms(quantile(b, 0.9)),
                 "CPU time per call (getrusage of the child, user+system; the wall time above "
                 "also holds the wait for a core): jobssh-keys " +
                     ms(mean(cpu_a)) + ", cat " + ms(mean(cpu_b)) + " (means, " +
                     fixed(mean(cpu_a) / mean(cpu_b), 2) + "×)"};
    return f;
}

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
    for (int i = 0; i < pairs; ++i) {
        started(shell, "jobssh-shell connect -- true (ssh stub)", a, cpu_a);
        started(stub, "the ssh stub", b, cpu_b);
        auto floor = run_timed(usage);
        require_exit(floor.exit, 0, "jobssh-shell help", err);
        c.push_back(floor.wall_ns / ns_per_ms);
    }
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

figure connect_true_vs_ssh(bench_context& ctx) {
    auto err = ctx.data / "connect.err";
    auto job = std::to_string(ctx.vm_job);
    spawn_options shell{shell_argv(ctx), {command_env("connect " + job + " -- true")}};
    shell.err = open_for_stderr(err);
    spawn_options direct{ctx.world.vm_ssh_argv(ctx.vm_job, "true")};
    direct.err = shell.err;
    int pairs = ctx.quick ? 4 : 20;
    std::vector<double> a, b;
    for (int i = 0; i < pairs; ++i) {
        auto rb = run_timed(direct);
        auto ra = run_timed(shell);
        require_exit(ra.exit, 0, "jobssh-shell connect -- true", err);
        require_exit(rb.exit, 0, "ssh to the VM", err);
        a.push_back(ra.wall_ns / ns_per_ms);
        b.push_back(rb.wall_ns / ns_per_ms);
    }
    ::close(shell.err);
    double ratio = median(a) / median(b);
    figure f{"`connect N -- true`, wall",
             ms(median(a)),
             "direct `ssh … true`: " + ms(median(b)),
             fixed(ratio, 3) + "× (" + spread(ratios(a, b), 3) + ")",
             "≤ 1.10×",
             ratio <= 1.10 ? "met" : "missed"};
    f.details = {std::to_string(pairs) +
                     " interleaved pairs against the same Docker VM. "
                     "jobssh-shell is run as sshd runs it (SSH_ORIGINAL_COMMAND, key argument), "
                     "without the front sshd hop, which is the same for both ways in.",
                 "added per call: " + ms(median(differences(a, b))) + " (" +
                     spread(differences(a, b), 2) + ")"};
    return f;
}

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
    pty_session recorded(recording_shell_argv(ctx), {command_env("connect " + job), "TERM=xterm"});
    for (auto* s : {&through, &direct, &proxy, &recorded}) {
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
    // Each round starts with a different one of the three, so that none is always the
    // first after a pause (or always the one after the busiest).
    int reps = ctx.quick ? 3 : 25;
    std::vector<double> ta, tb, tc, tr;
    for (int i = 0; i < reps; ++i) {
        for (int k = 0; k < 4; ++k) {
            switch ((i + k) % 4) {
            case 0:
                ta.push_back(throughput(through));
                break;
            case 1:
                tb.push_back(throughput(direct));
                break;
            case 2:
                tc.push_back(throughput(proxy));
                break;
            default:
                tr.push_back(throughput(recorded));
            }
        }
    }

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
    for (int r = 0; r < rounds; ++r) {
        keystrokes(through, ka, 20);
        keystrokes(direct, kb, 20);
        keystrokes(proxy, kc, 20);
        keystrokes(recorded, kr, 20);
    }

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

    double ratio = median(ta) / median(tb);
    figure bytes{"bytes/s through the interactive pty proxy",
                 mib_s(median(ta)),
                 "direct `ssh -t`: " + mib_s(median(tb)),
                 fixed(ratio, 3) + "× (" + spread(ratios(ta, tb), 3) + ")",
                 "≥ 0.95×",
                 ratio >= 0.95 ? "met" : "missed"};
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

    double p50 = median(ka) - median(kb);
    double p99 = quantile(ka, 0.99) - quantile(kb, 0.99);
    figure keys{"keystroke round trip added (byte in → echo out)",
                "p50 " + ms(median(ka)) + ", p99 " + ms(quantile(ka, 0.99)),
                "direct `ssh -t`: p50 " + ms(median(kb)) + ", p99 " + ms(quantile(kb, 0.99)),
                "added p50 " + ms(p50) + ", p99 " + ms(p99),
                "p99 ≤ 0.2 ms added",
                p99 <= 0.2 ? "met" : "missed"};
    keys.details = {
        std::to_string(ka.size()) +
            " keystrokes each way, in rounds of 20 "
            "alternating between the sessions, 2 ms apart; the echo is bash's "
            "readline on the VM.",
        "spread (p25–p75): jobssh " + spread(ka, 3) + " ms, direct " + spread(kb, 3) + " ms",
        "a proxy that passes both ways on itself, in the same rounds: `script -c 'ssh -t …'` "
        "adds "
        "p50 " +
            ms(median(kc) - median(kb)) + ", p99 " + ms(quantile(kc, 0.99) - quantile(kb, 0.99)) +
            " (its p50 " + ms(median(kc)) + ", p99 " + ms(quantile(kc, 0.99)) + ")"};
    auto plot = "bench-keystroke.svg";
    write_cdf_svg((ctx.plots / plot).string(), "Keystroke round trip (byte in → echo out)",
                  {{"through jobssh", "#d95f02", ka},
                   {"direct ssh -t", "#1b9e77", kb},
                   {"through script(1)", "#7570b3", kc}});
    ctx.plot_files.push_back(plot);

    double recorded_ratio = median(tr) / median(tb);
    figure recorded_bytes{"bytes/s through jobssh, session recorded",
                          mib_s(median(tr)),
                          "direct `ssh -t`: " + mib_s(median(tb)),
                          fixed(recorded_ratio, 3) + "× (" + spread(ratios(tr, tb), 3) + ")",
                          "≥ 0.90×",
                          recorded_ratio >= 0.90 ? "met" : "missed"};
    recorded_bytes.details = {
        "the same rounds as the figure above, a fourth session in each: `jobssh-shell` "
        "(command `connect N`) with `[jobssh] recordings` set, so ssh's stdout is a pipe that "
        "jobssh reads and writes on to the pty and, as asciicast events, to the recording",
        "the sandbox's own config, used by every other figure, has `watch = no`: those "
        "sessions keep the direct screen path"};
    double recorded_p99 = quantile(kr, 0.99) - quantile(kb, 0.99);
    figure recorded_keys{"keystroke round trip added, session recorded",
                         "p50 " + ms(median(kr)) + ", p99 " + ms(quantile(kr, 0.99)),
                         "direct `ssh -t`: p50 " + ms(median(kb)) + ", p99 " +
                             ms(quantile(kb, 0.99)),
                         "added p50 " + ms(median(kr) - median(kb)) + ", p99 " + ms(recorded_p99),
                         "p99 ≤ 0.3 ms added",
                         recorded_p99 <= 0.3 ? "met" : "missed"};
    recorded_keys.details = {std::to_string(kr.size()) +
                             " keystrokes, in the rounds of the keystroke figure above"};
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

    double p99 = quantile(line_ms, 0.99), first_p99 = quantile(task_ms, 0.99);
    figure line{"`tail`: a line written to the log → on the reader's stdout",
                "p50 " + ms(median(line_ms)) + ", p99 " + ms(p99),
                "—",
                "p99 " + ms(p99) + " (max " + ms(quantile(line_ms, 1)) + ")",
                "p99 ≤ 5 ms",
                p99 <= 5 ? "met" : "missed"};
    line.details = {std::to_string(lines) +
                    " lines, one write(2) each to a running task's log, "
                    "1–4 ms apart, each waited for on jobssh-shell's stdout (a pipe) before the "
                    "next; jobssh-shell run as sshd runs it, `tail N`."};
    figure first{"`tail`: a new task's first line",
                 "p50 " + ms(median(task_ms)) + ", p99 " + ms(first_p99),
                 "—",
                 "p99 " + ms(first_p99) + " (max " + ms(quantile(task_ms, 1)) + ")",
                 "≤ 5 ms",
                 first_p99 <= 5 ? "met" : "missed"};
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

std::vector<figure> tail_big_finished_job(bench_context& ctx) {
    const std::int64_t id = 901;
    const std::vector<std::string> tasks{"setup", "build", "test", "package"};
    std::uint64_t per_task = ctx.quick ? (16ull << 20) : (256ull << 20);
    auto root = ctx.data / ("biglog-" + std::to_string(per_task * tasks.size()));
    auto job_dir = root / std::to_string(id);
    if (!fs::exists(root / "complete")) {
        fs::remove_all(root);
        fs::create_directories(job_dir);
        append_to(job_dir / "log", "[#901] Booting image debian/bookworm\n[#901] Sending tasks\n");
        for (const auto& t : tasks) {
            fs::create_directories(job_dir / t);
            std::ofstream out(job_dir / t / "log", std::ios::binary);
            std::string chunk;
            std::uint64_t written = 0;
            for (std::uint64_t n = 0; written < per_task; ++n) {
                char line[160];
                int len = std::snprintf(line, sizeof line,
                                        "%s: cc -O2 -Wall -c src/module%06llu.c -o "
                                        "obj/module%06llu.o # %llu\n",
                                        t.c_str(), static_cast<unsigned long long>(n),
                                        static_cast<unsigned long long>(n),
                                        static_cast<unsigned long long>(n * 7919 % 100003));
                chunk.append(line, static_cast<std::size_t>(len));
                written += static_cast<std::uint64_t>(len);
                if (chunk.size() >= (1u << 20)) {
                    out << chunk;
                    chunk.clear();
                }
            }
            out << chunk;
            if (!out.flush())
                throw std::runtime_error("cannot write " + (job_dir / t / "log").string());
        }
        write_file((root / "complete").string(), "");
    }
    ctx.world.add_job(manual_job(id, tasks, "success"));
    finish_job(ctx, id, static_cast<int>(tasks.size()));
    auto link = ctx.world.buildlogs() / std::to_string(id);
    fs::remove_all(link);
    fs::create_directory_symlink(job_dir, link);

    std::vector<std::string> cat{"cat", (link / "log").string()};
    std::string seed = "tail -n +1 '" + (link / "log").string() + "'";
    std::uint64_t log_bytes = fs::file_size(link / "log");
    for (const auto& t : tasks) {
        cat.push_back((link / t / "log").string());
        seed += "; tail -n +1 '" + (link / t / "log").string() + "' | awk '{print \"[" + t +
                "] \" $0}'";
        log_bytes += fs::file_size(link / t / "log");
    }
    auto err = ctx.data / "tail-big.err";
    spawn_options jobssh{shell_argv(ctx), {command_env("tail " + std::to_string(id))}};
    jobssh.err = open_for_stderr(err);
    spawn_options floor{cat};
    floor.err = jobssh.err;
    spawn_options awk{{"sh", "-c", seed}};
    awk.err = jobssh.err;
    // The page cache holds the logs from here on, for all alike; the seed's output tells
    // how many bytes every way of reading the job delivers.
    auto warm = run_counting(awk);
    require_exit(warm.exit, 0, "tail | awk", err);
    // The floor of reading and writing as many bytes, with no line to find: dd reads
    // /dev/zero and writes 256 KiB at a time, as jobssh's batches, into a pipe grown to
    // 1 MiB, as jobssh grows its own.
    spawn_options zeros{{"dd", "if=/dev/zero", "bs=256K", "iflag=count_bytes",
                         "count=" + std::to_string(warm.bytes), "status=none"}};
    constexpr int grown_pipe = 1 << 20;
    zeros.err = jobssh.err;

    int rounds = ctx.quick ? 1 : 5;
    std::vector<double> a, b, c, d;
    std::uint64_t jobssh_bytes = 0, awk_bytes = 0;
    long rss = 0;
    for (int r = 0; r < rounds; ++r) {
        // Each round starts with the next of the four.
        for (int k = 0; k < 4; ++k) {
            switch ((r + k) % 4) {
            case 0: {
                auto run = run_counting(jobssh);
                require_exit(run.exit, 0, "jobssh-shell tail (1 GiB)", err);
                a.push_back(log_bytes / (run.wall_ns / 1e9));
                jobssh_bytes = run.bytes;
                rss = std::max(rss, run.exit.max_rss_kib);
                break;
            }
            case 1: {
                auto run = run_counting(floor);
                require_exit(run.exit, 0, "cat", err);
                b.push_back(log_bytes / (run.wall_ns / 1e9));
                break;
            }
            case 2: {
                auto run = run_counting(awk);
                require_exit(run.exit, 0, "tail | awk", err);
                c.push_back(log_bytes / (run.wall_ns / 1e9));
                awk_bytes = run.bytes;
                break;
            }
            default: {
                auto run = run_counting(zeros, nullptr, grown_pipe);
                require_exit(run.exit, 0, "dd", err);
                d.push_back(log_bytes / (run.wall_ns / 1e9));
            }
            }
        }
    }
    ::close(jobssh.err);
    if (jobssh_bytes != awk_bytes)
        throw std::runtime_error("jobssh printed " + std::to_string(jobssh_bytes) +
                                 " bytes, the seed's pipeline " + std::to_string(awk_bytes));
    ctx.tail_big_rss_kib = rss;
    double vs_cat = median(a) / median(b), vs_awk = median(a) / median(c);
    std::string size = fixed(log_bytes / 1073741824.0, 2) + " GiB";
    figure f1{"`tail` of a finished job, " + size + " of logs, vs `cat`",
              mib_s(median(a)),
              "`cat`: " + mib_s(median(b)),
              fixed(vs_cat, 2) + "× (" + spread(ratios(a, b), 2) + ")",
              "≥ 0.5× cat",
              vs_cat >= 0.5 ? "met" : "missed"};
    f1.details = {std::to_string(rounds) +
                      " interleaved rounds (jobssh, cat, seed, dd; each round "
                      "starting with the next) after one warming run of the seed; the logs are "
                      "on the disk under build-bench/ (job directory symlinked into the "
                      "sandbox's buildlogs), read from the page cache; every program writes "
                      "into a pipe the driver drains. Rate = log bytes / wall.",
                  "jobssh printed " + std::to_string(jobssh_bytes) +
                      " bytes, identical in "
                      "count to the seed's pipeline (prefixes included)",
                  "in the same rounds, the floor of reading and writing as many bytes with no "
                  "line to find: `dd if=/dev/zero bs=256K` (jobssh's batch size) into a pipe "
                  "grown to 1 MiB (as jobssh grows its own): " +
                      mib_s(median(d)) + ", " + fixed(median(d) / median(b), 2) +
                      "× cat; jobssh reaches " + fixed(100 * median(a) / median(d), 0) +
                      " % of it"};
    figure f2{"`tail` of the same job vs the seed's `tail -n +1 | awk`",
              mib_s(median(a)),
              "`tail | awk`: " + mib_s(median(c)),
              fixed(vs_awk, 2) + "× (" + spread(ratios(a, c), 2) + ")",
              "≥ 5× awk",
              vs_awk >= 5 ? "met" : "missed"};
    f2.details = {"the seed's pipeline, per task: `tail -n +1 FILE | awk '{print \"[task] \" "
                  "$0}'` (awk is Debian's default, mawk), the job log plain first; tail and awk "
                  "run side by side, one on each core",
                  "in the same rounds `cat` ran at " + fixed(median(b) / median(c), 2) +
                      "× the seed and the `dd` floor at " + fixed(median(d) / median(c), 2) +
                      "× the seed; per round, jobssh against the seed: " + [&] {
                          std::string each;
                          for (double r : ratios(a, c))
                              each += (each.empty() ? "" : ", ") + fixed(r, 2) + "×";
                          return each;
                      }()};
    return {f1, f2};
}

figure peak_rss(bench_context& ctx) {
    long tail = std::max(ctx.tail_rss_kib, ctx.tail_big_rss_kib);
    long worst = std::max(ctx.connect_rss_kib, tail);
    auto mib = [](long kib) { return fixed(kib / 1024.0, 2) + " MiB"; };
    spawn_options usage{shell_argv(ctx), {command_env("help")}};
    auto floor = run_timed(usage);
    auto cat = run_timed({{"cat", "/dev/null"}});
    figure f{"peak RSS of one jobssh-shell",
             "connect " + mib(ctx.connect_rss_kib) + ", tail " + mib(tail),
             "—",
             "worst " + mib(worst),
             "≤ 4 MiB",
             worst > 0 && worst <= 4096 ? "met" : "missed"};
    f.details = {"connect: VmHWM of the interactive `connect N` session after the throughput and "
                 "keystroke runs (jobssh-shell alone; its ssh child is not counted)",
                 "tail: the larger of the live tail's VmHWM/ru_maxrss (" + mib(ctx.tail_rss_kib) +
                     ") and the 1 GiB tail's ru_maxrss (" + mib(ctx.tail_big_rss_kib) + ")",
                 "of which private (RssAnon, sampled with VmHWM): connect " +
                     mib(ctx.connect_anon_kib) + ", live tail " + mib(ctx.tail_anon_kib) +
                     "; the rest is file-backed pages of the binary, libc and ld.so "
                     "(the kernel maps a file's pages 64 KiB around each one touched), shared "
                     "with every other process that maps them",
                 "floor: jobssh-shell printing its usage (`help`, no work) peaks at " +
                     mib(floor.exit.max_rss_kib) + "; `cat /dev/null` at " +
                     mib(cat.exit.max_rss_kib)};
    return f;
}

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
