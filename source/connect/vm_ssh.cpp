#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <fcntl.h>
#include <jobssh/api/runner.hpp>
#include <jobssh/common/config.hpp>
#include <jobssh/common/default_token.hpp>
#include <jobssh/common/failure.hpp>
#include <jobssh/common/posix.hpp>
#include <jobssh/common/resolve.hpp>
#include <jobssh/common/ssh_key_format.hpp>
#include <jobssh/connect/control_master.hpp>
#include <jobssh/connect/vm_ssh.hpp>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <unistd.h>
#include <vector>

namespace jobssh {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace asio::experimental::awaitable_operators;

namespace {

bool ascii_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// [A-Za-z0-9_][A-Za-z0-9._-]*: nothing ssh could take for an option or a second word.
bool plain_name(std::string_view name) {
    if (name.empty() || !(ascii_alnum(name.front()) || name.front() == '_'))
        return false;
    return std::all_of(name.begin(), name.end(),
                       [](char c) { return ascii_alnum(c) || c == '.' || c == '_' || c == '-'; });
}

// "<type> <base64>": a key type as authorized_keys takes it, then [A-Za-z0-9+/]+={0,2}; one
// line of known_hosts.
bool host_key_line(std::string_view key) {
    auto space = key.find(' ');
    if (space == std::string_view::npos || !valid_key_type(key.substr(0, space)))
        return false;
    auto blob = key.substr(space + 1);
    auto padding = blob.find_last_not_of('=') + 1; // 0 when all '=' (or empty)
    if (padding == 0 || blob.size() - padding > 2)
        return false;
    blob = blob.substr(0, padding);
    return std::all_of(blob.begin(), blob.end(),
                       [](char c) { return ascii_alnum(c) || c == '+' || c == '/'; });
}

// known_hosts names a host on a port other than 22 as "[host]:port".
std::string known_hosts_name(const job_info& info) {
    if (info.port == 22)
        return info.ssh_host;
    return "[" + info.ssh_host + "]:" + std::to_string(info.port);
}

} // namespace

pinned_host_keys::pinned_host_keys(const fs::path& directory, const job_info& info) {
    if (!plain_name(info.ssh_host))
        throw std::invalid_argument("ssh_host is not a plain host name: " + info.ssh_host);
    std::string text;
    for (const auto& key : info.host_keys) {
        if (!host_key_line(key))
            throw std::invalid_argument("host key is not \"<type> <base64>\": " + key);
        text += known_hosts_name(info) + " " + key + "\n";
    }
    std::error_code ec;
    fs::create_directories(directory, ec);
    static std::atomic<unsigned> serial{0};
    file_ =
        directory / ("known_hosts-" + std::to_string(::getpid()) + "-" + std::to_string(serial++));
    unique_fd fd(
        ::open(file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd)
        throw_errno("create " + file_.string());
    if (auto ec = write_all(fd.get(), text))
        throw std::system_error(ec, "write " + file_.string());
}

pinned_host_keys::~pinned_host_keys() {
    std::error_code ec;
    fs::remove(file_, ec);
}

ssh_diagnostics::ssh_diagnostics(const fs::path& directory) {
    std::error_code ec;
    fs::create_directories(directory, ec);
    static std::atomic<unsigned> serial{0};
    file_ = directory / ("ssh-" + std::to_string(::getpid()) + "-" + std::to_string(serial++));
    unique_fd fd(
        ::open(file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd)
        throw_errno("create " + file_.string());
}

ssh_diagnostics::~ssh_diagnostics() {
    std::error_code ec;
    fs::remove(file_, ec);
}

std::string ssh_diagnostics::text() const {
    constexpr std::size_t kept = 16 * 1024;
    std::string text(kept, '\0');
    unique_fd fd(::open(file_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    std::size_t have = 0;
    while (fd && have < kept) {
        ssize_t n = ::read(fd.get(), text.data() + have, kept - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += static_cast<std::size_t>(n);
    }
    text.resize(have);
    return text;
}

namespace {

// How ssh reaches the VM and logs in, before the destination: the session's ssh and the
// job's master take the same.
std::vector<std::string> vm_connection_options(const config& cfg, const job_info& info,
                                               const vm_ssh_files& files) {
    if (!plain_name(info.ssh_user))
        throw std::invalid_argument("ssh_user is not a plain user name: " + info.ssh_user);
    if (!plain_name(info.ssh_host))
        throw std::invalid_argument("ssh_host is not a plain host name: " + info.ssh_host);
    std::vector<std::string> argv{"-p", std::to_string(info.port),
                                  // the login user's ~/.ssh/config has no say in this
                                  "-F", "none"};
    if (files.diagnostics)
        argv.insert(argv.end(), {"-E", files.diagnostics->string()});
    if (!cfg.vm_identity.empty()) {
        argv.insert(argv.end(), {"-i", cfg.vm_identity.string(), "-o", "IdentitiesOnly=yes"});
    }
    if (files.known_hosts) {
        argv.insert(argv.end(),
                    {"-o", "UserKnownHostsFile=" + files.known_hosts->string(), "-o",
                     "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes", "-o",
                     "CheckHostIP=no", "-o", "UpdateHostKeys=no"});
    } else {
        // builds.sr.ht's own behaviour: VMs are fresh every time, any key is taken.
        argv.insert(argv.end(),
                    {"-o", "UserKnownHostsFile=/dev/null", "-o", "GlobalKnownHostsFile=/dev/null",
                     "-o", "StrictHostKeyChecking=no"});
    }
    argv.insert(argv.end(),
                {"-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", "-o",
                 "ServerAliveInterval=30", "-o", "ServerAliveCountMax=4"});
    return argv;
}

} // namespace

std::vector<std::string> vm_ssh_argv(const config& cfg, const job_info& info, bool tty,
                                     const std::string& remote_command, const vm_ssh_files& files) {
    std::vector<std::string> argv{tty ? "-t" : "-T", "-e", "none"};
    auto connection = vm_connection_options(cfg, info, files);
    argv.insert(argv.end(), connection.begin(), connection.end());
    // -F none drops Debian's `SendEnv LANG LC_*`: what the front sshd accepted from the user
    // goes on to the VM as with a direct ssh (TERM goes with the pty).
    argv.insert(argv.end(), {"-o", "SendEnv=LANG LC_*"});
    if (files.control_path) {
        auto ride = ride_master_options(*files.control_path);
        argv.insert(argv.end(), ride.begin(), ride.end());
    }
    argv.insert(argv.end(), {"--", info.ssh_user + "@" + info.ssh_host});
    // One argument, which ssh sends as it is: the VM's shell reads the user's words.
    argv.push_back(remote_command.empty() ? "bash" : remote_command);
    return argv;
}

std::vector<std::string> vm_master_options(const config& cfg, const job_info& info,
                                           const vm_ssh_files& files) {
    auto argv = vm_connection_options(cfg, info, {files.known_hosts, files.diagnostics});
    // A session riding the master sends what its own SendEnv lets through, and the master
    // passes on only what its SendEnv lets through too.
    argv.insert(argv.end(), {"-o", "SendEnv=LANG LC_*", "--", info.ssh_user + "@" + info.ssh_host});
    return argv;
}

std::optional<failure> vm_ssh_failure(int exit_status, std::string_view diagnostics) {
    if (exit_status != 255 || diagnostics.empty())
        return std::nullopt;
    auto says = [&](std::string_view words) {
        return diagnostics.find(words) != std::string_view::npos;
    };
    if (says("REMOTE HOST IDENTIFICATION HAS CHANGED") || says("Host key verification failed"))
        return failure::vm_host_key;
    if (says("Permission denied"))
        return failure::vm_login;
    if (says("Connection refused") || says("Connection timed out") || says("No route to host") ||
        says("Could not resolve hostname") || says("Connection closed by") ||
        says("Connection reset by") || says("kex_exchange_identification"))
        return failure::vm_unreachable;
    // Anything else ssh said is the operator's to read; the status stays ssh's.
    return std::nullopt;
}

asio::awaitable<bool> wait_for_vm(const job_info& info, std::chrono::milliseconds bound,
                                  std::function<void()> on_first_retry) {
    auto executor = co_await asio::this_coro::executor;
    auto give_up = std::chrono::steady_clock::now() + bound;
    if (info.deadline != std::chrono::sys_seconds{}) {
        auto to_deadline = info.deadline - std::chrono::system_clock::now();
        give_up = std::min(give_up,
                           std::chrono::steady_clock::now() +
                               std::chrono::duration_cast<std::chrono::milliseconds>(to_deadline));
    }
    std::chrono::milliseconds backoff{100};
    bool told = false;
    for (;;) {
        constexpr std::chrono::seconds attempt_bound{3};
        resolved vm = co_await resolve_within(info.ssh_host, info.port, attempt_bound);
        if (!vm.error) {
            asio::ip::tcp::socket socket(executor);
            asio::steady_timer attempt(executor, attempt_bound);
            auto outcome = co_await (asio::async_connect(socket, vm.endpoints, default_token()) ||
                                     attempt.async_wait(default_token()));
            if (outcome.index() == 0 && !std::get<0>(std::get<0>(outcome)))
                co_return true;
        }
        auto now = std::chrono::steady_clock::now();
        if (now >= give_up)
            co_return false;
        if (!told && on_first_retry) {
            on_first_retry();
            told = true;
        }
        asio::steady_timer pause(
            executor, std::min<std::chrono::steady_clock::duration>(backoff, give_up - now));
        co_await pause.async_wait(asio::use_awaitable);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    }
}

} // namespace jobssh
