#include <algorithm>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <fcntl.h>
#include <jobssh/common/big_endian.hpp>
#include <jobssh/common/default_token.hpp>
#include <jobssh/common/posix.hpp>
#include <jobssh/common/syslog.hpp>
#include <jobssh/connect/control_master.hpp>
#include <jobssh/connect/pty.hpp>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

namespace jobssh {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace asio::experimental::awaitable_operators;

namespace {

// OpenSSH makes the socket as "<path>.<16 random characters>" and links it to its name.
constexpr std::size_t openssh_suffix = 17;

// The mux protocol (OpenSSH's PROTOCOL.mux), version 4: each message a uint32 length and
// that many bytes, whose first uint32 is its type.
constexpr std::uint32_t mux_hello = 0x00000001;
constexpr std::uint32_t mux_version = 4;
constexpr std::uint32_t mux_alive_check = 0x10000004;
constexpr std::uint32_t mux_alive = 0x80000005;

fs::path with_suffix(const fs::path& socket, std::string_view suffix) {
    return fs::path(socket.string() + std::string(suffix));
}

std::string mux_message(std::initializer_list<std::uint32_t> words) {
    std::string out;
    append_be32(out, static_cast<std::uint32_t>(words.size() * 4));
    for (auto word : words)
        append_be32(out, word);
    return out;
}

// Exactly n bytes from `fd` before `until`, or nothing.
std::optional<std::string> read_exactly(int fd, std::size_t n,
                                        std::chrono::steady_clock::time_point until) {
    std::string bytes;
    while (bytes.size() < n) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            return std::nullopt;
        pollfd readable{fd, POLLIN, 0};
        int ready = ::poll(&readable, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            return std::nullopt;
        char buffer[256];
        ssize_t got = ::read(fd, buffer, std::min(sizeof buffer, n - bytes.size()));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return std::nullopt;
        bytes.append(buffer, static_cast<std::size_t>(got));
    }
    return bytes;
}

// One framed message's payload, at most 4 KiB.
std::optional<std::string> read_message(int fd, std::chrono::steady_clock::time_point until) {
    auto length = read_exactly(fd, 4, until);
    if (!length)
        return std::nullopt;
    std::uint32_t size = read_be32(*length, 0);
    if (size < 4 || size > 4096)
        return std::nullopt;
    return read_exactly(fd, size, until);
}

// glibc 2.36's <sys/pidfd.h> declares these without C linkage: the system calls themselves.
int open_pidfd(pid_t pid) {
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

void send_signal(int pidfd, int signal) {
    ::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0);
}

// The pid of the master still running as ours: its command line names the socket.
bool runs_master_of(pid_t pid, const fs::path& socket) {
    unique_fd fd(
        ::open(("/proc/" + std::to_string(pid) + "/cmdline").c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd)
        return false;
    std::string text;
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(fd.get(), buffer, sizeof buffer)) > 0)
        text.append(buffer, static_cast<std::size_t>(n));
    std::string name = socket.string();
    name.push_back('\0');
    return text.find('\0' + name) != std::string::npos;
}

bool ended_within(int pidfd, std::chrono::milliseconds bound) {
    pollfd ended{pidfd, POLLIN, 0};
    for (;;) {
        int ready = ::poll(&ended, 1, static_cast<int>(bound.count()));
        if (ready < 0 && errno == EINTR)
            continue;
        return ready > 0;
    }
}

std::optional<pid_t> read_pid_file(const fs::path& file) {
    unique_fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd)
        return std::nullopt;
    char buffer[32] = {};
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer - 1);
    if (n <= 0)
        return std::nullopt;
    char* end = nullptr;
    long pid = std::strtol(buffer, &end, 10);
    if (pid <= 1 || end == buffer)
        return std::nullopt;
    return static_cast<pid_t>(pid);
}

void write_pid_file(const fs::path& file, pid_t pid) {
    unique_fd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (fd) [[maybe_unused]]
        auto ignored = write_all(fd.get(), std::to_string(pid) + "\n");
}

bool master_file_named(const fs::path& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

} // namespace

std::optional<fs::path> control_path(const fs::path& directory, std::string_view name) {
    fs::path path = directory / std::string(name);
    if (path.string().size() + openssh_suffix >= sizeof(sockaddr_un::sun_path))
        return std::nullopt;
    return path;
}

bool is_master_file(std::string_view file_name, std::string_view socket_name) {
    return file_name.starts_with(socket_name) &&
           (file_name.size() == socket_name.size() || file_name[socket_name.size()] == '.');
}

std::vector<std::string> ride_master_options(const fs::path& socket) {
    return {"-o", "ControlMaster=no", "-o", "ControlPath=" + socket.string()};
}

std::string without_master_complaints(std::string_view said, std::string& about_master) {
    std::string kept;
    std::size_t at = 0;
    while (at < said.size()) {
        auto end = said.find('\n', at);
        end = end == std::string_view::npos ? said.size() : end + 1;
        auto line = said.substr(at, end - at);
        if (line.starts_with("Control socket connect(") || line.starts_with("ControlSocket ") ||
            line.starts_with("mux_client_"))
            about_master += line;
        else
            kept += line;
        at = end;
    }
    return kept;
}

std::optional<pid_t> master_answers(const fs::path& socket, std::chrono::milliseconds bound) {
    auto until = std::chrono::steady_clock::now() + bound;
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const std::string& name = socket.native();
    if (name.size() >= sizeof address.sun_path)
        return std::nullopt;
    std::copy(name.begin(), name.end(), address.sun_path);
    unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd ||
        ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
        return std::nullopt; // no socket, or nobody listening on it: a killed master's
    std::string ask = mux_message({mux_hello, mux_version}) + mux_message({mux_alive_check, 1});
    if (write_all(fd.get(), ask))
        return std::nullopt;
    auto hello = read_message(fd.get(), until);
    if (!hello || read_be32(*hello, 0) != mux_hello)
        return std::nullopt;
    auto alive = read_message(fd.get(), until);
    if (!alive || alive->size() < 12 || read_be32(*alive, 0) != mux_alive ||
        read_be32(*alive, 4) != 1)
        return std::nullopt;
    return static_cast<pid_t>(read_be32(*alive, 8));
}

void stop_master(const fs::path& socket, std::chrono::milliseconds grace) {
    auto pid_file = with_suffix(socket, ".pid");
    if (auto pid = read_pid_file(pid_file)) {
        unique_fd process(open_pidfd(*pid));
        // Checked after the pidfd is ours: a pid used again since is not signalled.
        if (process && runs_master_of(*pid, socket)) {
            send_signal(process.get(), SIGTERM);
            send_signal(process.get(), SIGCONT);
            if (!ended_within(process.get(), grace)) {
                send_signal(process.get(), SIGKILL);
                ended_within(process.get(), grace);
            }
        }
    }
    std::error_code ec;
    fs::remove(socket, ec);
    fs::remove(pid_file, ec);
}

asio::awaitable<master_outcome> ensure_master(fs::path socket, std::vector<std::string> options,
                                              std::chrono::seconds idle,
                                              std::chrono::milliseconds bound,
                                              std::function<std::string()> diagnostics) {
    auto executor = co_await asio::this_coro::executor;
    auto until = std::chrono::steady_clock::now() + bound;
    master_outcome result;
    constexpr std::chrono::milliseconds answer_bound{1000};

    // A session that finds another starting the master waits for that one handshake.
    auto lock_path = with_suffix(socket, ".lock");
    unique_fd lock(::open(lock_path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!lock)
        throw_errno("open " + lock_path.string());
    while (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK)
            throw_errno("flock " + lock_path.string());
        if (std::chrono::steady_clock::now() >= until) {
            result.outcome = master_outcome::state::timeout;
            co_return result;
        }
        asio::steady_timer pause(executor, std::chrono::milliseconds(20));
        auto [error] = co_await pause.async_wait(default_token());
        if (error == asio::error::operation_aborted)
            throw std::system_error(error, "waiting for the master's lock was cancelled");
    }

    if (master_answers(socket, answer_bound)) {
        result.outcome = master_outcome::state::ready;
        co_return result;
    }
    if (master_file_named(socket) || master_file_named(with_suffix(socket, ".pid"))) {
        stop_master(socket);
        result.replaced = true;
    }

    std::vector<std::string> args{"-f",
                                  "-M",
                                  "-N",
                                  "-S",
                                  socket.string(),
                                  "-o",
                                  "ControlPersist=" + std::to_string(idle.count()) + "s"};
    args.insert(args.end(), options.begin(), options.end());
    unique_fd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!null)
        throw_errno("open /dev/null");
    // ssh forks the master off once it is in and listening on the socket, and exits 0.
    child starting = start_child(executor, "ssh", args, {null.get(), null.get(), null.get()});
    null.reset();
    asio::steady_timer timer(executor, until);
    auto ended = co_await (starting.wait() || timer.async_wait(default_token()));
    auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) {
        // The session ended while its master was in the making (a signal, a hang-up): the
        // handshake is killed, and a master already forked off is stopped, nobody to ride it.
        starting.signal_group(SIGKILL);
        if (auto pid = master_answers(socket, answer_bound)) {
            write_pid_file(with_suffix(socket, ".pid"), *pid);
            stop_master(socket);
        }
        throw std::system_error(std::make_error_code(std::errc::operation_canceled),
                                "making the master was cancelled");
    }
    if (ended.index() == 1) {
        starting.signal_group(SIGKILL);
        co_await starting.wait();
        result.outcome = master_outcome::state::timeout;
        result.ssh_said = diagnostics();
        co_return result;
    }
    result.exit_status = std::get<0>(ended);
    result.ssh_said = diagnostics();
    if (result.exit_status != 0)
        co_return result;
    auto pid = master_answers(socket, answer_bound);
    if (!pid) {
        result.ssh_said += "the master ssh started does not answer on " + socket.string();
        co_return result;
    }
    write_pid_file(with_suffix(socket, ".pid"), *pid);
    result.outcome = master_outcome::state::ready;
    result.started = true;
    co_return result;
}

asio::awaitable<std::optional<fs::path>>
master_to_ride(fs::path socket, std::vector<std::string> options, std::chrono::seconds idle,
               std::chrono::milliseconds bound, std::function<std::string()> diagnostics,
               log_fields line, std::function<bool(const master_outcome&)> refuse) {
    line.add("event", "multiplex");
    master_outcome outcome;
    try {
        outcome =
            co_await ensure_master(socket, std::move(options), idle, bound, std::move(diagnostics));
    } catch (const std::system_error& e) {
        if (e.code() == std::errc::operation_canceled)
            throw;
        log_error(line.add("outcome", "failed").add("detail", e.what()));
        co_return std::nullopt;
    }
    switch (outcome.outcome) {
    case master_outcome::state::ready:
        if (outcome.started)
            log_info(line.add("master", outcome.replaced ? "replaced" : "started"));
        co_return socket;
    case master_outcome::state::failed:
        if (refuse(outcome))
            co_return std::nullopt;
        log_error(line.add("outcome", "failed")
                      .add("status", outcome.exit_status)
                      .add("ssh", outcome.ssh_said));
        co_return std::nullopt;
    case master_outcome::state::timeout:
        break;
    }
    log_error(line.add("outcome", "timeout").add("ssh", outcome.ssh_said));
    co_return std::nullopt;
}

} // namespace jobssh
