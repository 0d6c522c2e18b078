#include <algorithm>
#include <boost/asio/this_coro.hpp>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <jobssh/common/failure.hpp>
#include <jobssh/common/posix.hpp>
#include <jobssh/common/syslog.hpp>
#include <jobssh/common/user_name.hpp>
#include <jobssh/connect/relay.hpp>
#include <jobssh/connect/terminal.hpp>
#include <jobssh/connect/vm_ssh.hpp>
#include <jobssh/gateway/hop.hpp>
#include <system_error>
#include <tuple>
#include <unistd.h>
#include <utility>

namespace jobssh {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view prefix = "as ";
constexpr std::string_view keyed_prefix = "as-key ";

// ssh's diagnostics of one hop, in a file of their own, removed with the session.
class hop_log {
public:
    explicit hop_log(const fs::path& directory) {
        std::error_code ignored;
        fs::create_directories(directory, ignored);
        std::string pattern = (directory / "hop-XXXXXX").string();
        unique_fd fd(::mkstemp(pattern.data()));
        if (!fd)
            throw_errno("create " + pattern);
        file_ = pattern;
    }
    ~hop_log() {
        std::error_code ignored;
        fs::remove(file_, ignored);
    }
    hop_log(const hop_log&) = delete;
    hop_log& operator=(const hop_log&) = delete;

    const fs::path& file() const { return file_; }

    std::string text() const {
        std::string text;
        unique_fd fd(::open(file_.c_str(), O_RDONLY | O_CLOEXEC));
        char buffer[4096];
        ssize_t n;
        while (fd && text.size() < 16 * 1024 && (n = ::read(fd.get(), buffer, sizeof buffer)) > 0)
            text.append(buffer, static_cast<std::size_t>(n));
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
            text.pop_back();
        return text;
    }

private:
    fs::path file_;
};

} // namespace

bool valid_fingerprint(std::string_view fingerprint) {
    constexpr std::string_view sha256 = "SHA256:";
    constexpr std::size_t digest_chars = 43; // 32 bytes in base64, unpadded
    if (!fingerprint.starts_with(sha256))
        return false;
    fingerprint.remove_prefix(sha256.size());
    return fingerprint.size() == digest_chars &&
           std::all_of(fingerprint.begin(), fingerprint.end(), [](char c) {
               return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '+' || c == '/';
           });
}

std::string gateway_command(std::string_view user, std::string_view fingerprint,
                            std::string_view original_command) {
    if (!valid_fingerprint(fingerprint))
        return std::string(prefix) + std::string(user) + " " + std::string(original_command);
    return std::string(keyed_prefix) + std::string(user) + " " + std::string(fingerprint) + " " +
           std::string(original_command);
}

std::optional<gateway_request> parse_gateway_command(std::string_view remote_command) {
    const bool keyed = remote_command.starts_with(keyed_prefix);
    if (!keyed && !remote_command.starts_with(prefix))
        return std::nullopt;
    remote_command.remove_prefix(keyed ? keyed_prefix.size() : prefix.size());
    // One word, then the end or one space and the rest.
    auto next_word = [&remote_command]() {
        auto space = remote_command.find(' ');
        std::string word(remote_command.substr(0, space));
        remote_command.remove_prefix(space == std::string_view::npos ? remote_command.size()
                                                                     : space + 1);
        return std::pair(word, space != std::string_view::npos);
    };
    gateway_request request;
    bool more = false;
    std::tie(request.user, more) = next_word();
    if (!valid_user_name(request.user))
        return std::nullopt;
    if (keyed) {
        if (!more)
            return std::nullopt;
        std::tie(request.fingerprint, more) = next_word();
        if (!valid_fingerprint(request.fingerprint))
            return std::nullopt;
    }
    if (more)
        request.original_command = std::string(remote_command);
    return request;
}

std::vector<std::string> hop_ssh_argv(const config& cfg, const runner_address& runner, bool tty,
                                      const fs::path& log, std::string remote_command) {
    const gateway_config& gateway = cfg.gateway;
    return {
        tty ? "-tt" : "-T", "-e", "none",
        // the login user's ~/.ssh/config has no say in this
        "-F", "none", "-p", std::to_string(gateway.ssh_port), "-i", gateway.identity.string(), "-o",
        "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o",
        "UserKnownHostsFile=" + gateway.known_hosts.string(), "-o",
        "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes", "-o", "CheckHostIP=no",
        "-o", "UpdateHostKeys=no", "-o", "BatchMode=yes", "-o", "ControlMaster=no", "-o",
        "ControlPath=none", "-o", "ClearAllForwardings=yes", "-o", "SendEnv=LANG LC_*", "-o",
        "ConnectTimeout=" +
            std::to_string(std::max<long long>(
                1, std::chrono::duration_cast<std::chrono::seconds>(cfg.http_timeout).count())),
        "-o", "ServerAliveInterval=30", "-o", "ServerAliveCountMax=4", "-o", "LogLevel=ERROR", "-E",
        log.string(), "--", gateway.ssh_user + "@" + runner.host, std::move(remote_command)};
}

asio::awaitable<int> hop_to_runner(const config& cfg, runner_address runner, std::string user,
                                   std::string fingerprint, std::string original_command) {
    const bool tty = is_terminal(STDIN_FILENO);
    std::optional<hop_log> log;
    try {
        log.emplace(cfg.state_dir);
    } catch (const std::system_error& e) {
        throw failure_error(failure::internal, std::string("hop log: ") + e.what());
    }
    auto args = hop_ssh_argv(cfg, runner, tty, log->file(),
                             gateway_command(user, fingerprint, original_command));

    session_options options;
    // jobssh-shell races the whole session with the signals that end it; cancelled, the
    // relay stops the hop's ssh, and with it the runner's session.
    options.catch_signals = false;
    options.warn_before.clear(); // the runner warns of its deadline itself
    session_result result;
    try {
        // Two statements: GCC 12 miscompiles co_await inside a conditional expression.
        if (tty)
            result = co_await relay_on_pty("ssh", std::move(args), {}, options);
        else
            result = co_await relay_with_pipes("ssh", std::move(args), {}, options);
    } catch (const std::system_error& e) {
        throw failure_error(failure::internal, std::string("cannot run ssh: ") + e.what());
    }
    // Until ssh makes its pty raw (once in at the runner), ^C and ^\ on it are signals to
    // ssh itself, which dies of them; ssh never exits 130 or 131 of its own.
    if (tty && !result.made_raw && result.end == session_end::child_exited &&
        (result.exit_status == 128 + SIGINT || result.exit_status == 128 + SIGQUIT))
        throw interrupted_during_hop(result.exit_status - 128);
    const std::string name = runner.host + ":" + std::to_string(cfg.gateway.ssh_port);
    // 255 is ssh's own failure; with something in its log, the hop itself failed (a runner's
    // session that exits 255 leaves the log empty).
    const std::string said = log->text();
    if (result.end == session_end::child_exited && result.exit_status == 255 && !said.empty()) {
        if (vm_ssh_failure(255, said) == failure::vm_host_key)
            throw failure_error(failure::runner_host_key, "runner " + name + ": " + said);
        throw failure_error(failure::runner_unreachable, "runner " + name + ": " + said);
    }
    write_all(STDERR_FILENO, result.held_stderr);
    co_return result.exit_status;
}

} // namespace jobssh
