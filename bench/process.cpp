#include "process.hpp"

#include "wait_status.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <pty.h>
#include <sstream>
#include <stdexcept>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace jobssh::bench {

std::int64_t now_ns() {
    timespec t{};
    ::clock_gettime(CLOCK_MONOTONIC, &t);
    return static_cast<std::int64_t>(t.tv_sec) * 1000000000LL + t.tv_nsec;
}

namespace {

[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error(what + ": " + std::strerror(errno));
}

std::vector<std::string> merged_environment(const std::vector<std::string>& extra) {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
        std::string_view entry(*e);
        auto name = entry.substr(0, entry.find('=') + 1);
        bool replaced = false;
        for (const auto& x : extra)
            replaced = replaced || x.compare(0, name.size(), name) == 0;
        if (!replaced)
            env.emplace_back(entry);
    }
    env.insert(env.end(), extra.begin(), extra.end());
    return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
    std::vector<char*> p;
    for (auto& s : strings)
        p.push_back(s.data());
    p.push_back(nullptr);
    return p;
}

exit_info from_wait(int status, const rusage& usage) {
    exit_info info;
    info.status = fixtures::exit_code_of(status);
    info.max_rss_kib = usage.ru_maxrss;
    info.cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                       (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    return info;
}

} // namespace

pid_t spawn(const spawn_options& options) {
    // Everything the child needs is made before fork: after it, only async-signal-safe calls.
    auto argv_strings = options.argv;
    auto env_strings = merged_environment(options.env);
    auto argv = pointers(argv_strings);
    auto envp = pointers(env_strings);
    int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd < 0)
        fail("open /dev/null");
    int in = options.in >= 0 ? options.in : null_fd;
    int out = options.out >= 0 ? options.out : null_fd;
    int err = options.err >= 0 ? options.err : null_fd;
    pid_t pid = ::fork();
    if (pid < 0)
        fail("fork");
    if (pid == 0) {
        if (options.controlling_tty) {
            ::setsid();
            ::ioctl(in, TIOCSCTTY, 0);
        }
        ::dup2(in, 0);
        ::dup2(out, 1);
        ::dup2(err, 2);
        ::close_range(3, ~0U, 0);
        for (int sig = 1; sig < NSIG; ++sig)
            ::signal(sig, SIG_DFL);
        sigset_t none;
        ::sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::execvpe(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
    ::close(null_fd);
    return pid;
}

exit_info wait_exit(pid_t pid) {
    int status = 0;
    rusage usage{};
    while (::wait4(pid, &status, 0, &usage) < 0)
        if (errno != EINTR)
            fail("wait4");
    return from_wait(status, usage);
}

exit_info wait_exit_bounded(pid_t pid, std::chrono::milliseconds bound) {
    auto end = now_ns() + std::chrono::nanoseconds(bound).count();
    for (;;) {
        int status = 0;
        rusage usage{};
        pid_t got = ::wait4(pid, &status, WNOHANG, &usage);
        if (got == pid)
            return from_wait(status, usage);
        if (got < 0 && errno != EINTR)
            fail("wait4");
        if (now_ns() > end) {
            ::kill(pid, SIGKILL);
            return wait_exit(pid);
        }
        ::usleep(2000);
    }
}

timed_run run_timed(const spawn_options& options) {
    timed_run run;
    auto start = now_ns();
    pid_t pid = spawn(options);
    run.exit = wait_exit(pid);
    run.wall_ns = now_ns() - start;
    return run;
}

counted_run run_counting(spawn_options options, std::string* keep, int pipe_size) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        fail("pipe");
    if (pipe_size > 0 && ::fcntl(fds[1], F_SETPIPE_SZ, pipe_size) < pipe_size)
        fail("F_SETPIPE_SZ");
    options.out = fds[1];
    counted_run run;
    auto start = now_ns();
    pid_t pid = spawn(options);
    ::close(fds[1]);
    std::vector<char> buffer(1 << 18);
    for (;;) {
        ssize_t n = ::read(fds[0], buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        run.bytes += static_cast<std::uint64_t>(n);
        if (keep)
            keep->append(buffer.data(), static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    run.exit = wait_exit(pid);
    run.wall_ns = now_ns() - start;
    return run;
}

pty_session::pty_session(std::vector<std::string> argv, std::vector<std::string> env) {
    winsize size{};
    size.ws_row = 24;
    size.ws_col = 80;
    int slave = -1;
    if (::openpty(&master_, &slave, nullptr, nullptr, &size) != 0)
        fail("openpty");
    ::fcntl(master_, F_SETFD, FD_CLOEXEC);
    ::fcntl(master_, F_SETFL, ::fcntl(master_, F_GETFL) | O_NONBLOCK);
    spawn_options options{std::move(argv), std::move(env), slave, slave, slave, true};
    pid_ = spawn(options);
    ::close(slave);
}

pty_session::~pty_session() {
    if (!finished_ && pid_ > 0) {
        ::kill(pid_, SIGKILL);
        wait_exit(pid_);
    }
    if (master_ >= 0)
        ::close(master_);
}

void pty_session::send(std::string_view bytes) {
    while (!bytes.empty()) {
        ssize_t n = ::write(master_, bytes.data(), bytes.size());
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            pollfd p{master_, POLLOUT, 0};
            ::poll(&p, 1, 100);
            continue;
        }
        if (n < 0)
            fail("write to pty");
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

std::uint64_t pty_session::expect(std::string_view needle, std::chrono::milliseconds bound) {
    auto end = now_ns() + std::chrono::nanoseconds(bound).count();
    std::uint64_t total = 0;
    std::vector<char> buffer(1 << 16);
    for (;;) {
        auto left = (end - now_ns()) / 1000000;
        if (left <= 0)
            throw std::runtime_error("pty: \"" + std::string(needle) +
                                     "\" did not come; last bytes: " + recent_);
        pollfd p{master_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left)) <= 0)
            continue;
        ssize_t n = ::read(master_, buffer.data(), buffer.size());
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0)
            throw std::runtime_error("pty closed before \"" + std::string(needle) +
                                     "\"; last bytes: " + recent_);
        total += static_cast<std::uint64_t>(n);
        recent_.append(buffer.data(), static_cast<std::size_t>(n));
        auto found = recent_.find(needle);
        if (found != std::string::npos) {
            recent_.erase(0, found + needle.size());
            return total;
        }
        if (recent_.size() > 4 * needle.size() + 256)
            recent_.erase(0, recent_.size() - needle.size());
    }
}

void pty_session::drain(std::chrono::milliseconds quiet) {
    char buffer[4096];
    for (;;) {
        pollfd p{master_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(quiet.count())) <= 0)
            break;
        ssize_t n = ::read(master_, buffer, sizeof buffer);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0)
            break;
    }
    recent_.clear();
}

std::int64_t pty_session::await_byte(char c, std::int64_t since, std::chrono::milliseconds bound) {
    auto end = now_ns() + std::chrono::nanoseconds(bound).count();
    char buffer[4096];
    for (;;) {
        auto left = (end - now_ns()) / 1000000;
        if (left <= 0)
            throw std::runtime_error("pty: no echo within the bound");
        pollfd p{master_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left)) <= 0)
            continue;
        ssize_t n = ::read(master_, buffer, sizeof buffer);
        auto at = now_ns();
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0)
            throw std::runtime_error("pty closed while waiting for an echo");
        if (std::string_view(buffer, static_cast<std::size_t>(n)).find(c) != std::string_view::npos)
            return at - since;
    }
}

exit_info pty_session::finish(std::chrono::milliseconds bound) {
    send("exit\n");
    auto end = now_ns() + std::chrono::nanoseconds(bound).count();
    char buffer[4096];
    // Keep reading so that the program is never blocked on a full pty.
    while (now_ns() < end) {
        int status = 0;
        rusage usage{};
        if (::wait4(pid_, &status, WNOHANG, &usage) == pid_) {
            finished_ = true;
            return from_wait(status, usage);
        }
        pollfd p{master_, POLLIN, 0};
        if (::poll(&p, 1, 10) > 0 && ::read(master_, buffer, sizeof buffer) < 0 && errno == EIO)
            ::usleep(5000);
    }
    ::kill(pid_, SIGKILL);
    finished_ = true;
    return wait_exit(pid_);
}

long status_kib(pid_t pid, const std::string& field) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(field + ":", 0) == 0)
            return std::stol(line.substr(field.size() + 1));
    return 0;
}

long long cpu_ns(pid_t pid) {
    std::istringstream fields(read_file("/proc/" + std::to_string(pid) + "/schedstat"));
    long long ns = -1;
    fields >> ns;
    return ns;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

void write_file(const std::string& path, std::string_view text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush())
        throw std::runtime_error("cannot write " + path);
}

} // namespace jobssh::bench
