#include <algorithm>
#include <boost/asio/this_coro.hpp>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <jobssh/common/failure.hpp>
#include <jobssh/common/posix.hpp>
#include <jobssh/common/syslog.hpp>
#include <jobssh/common/user_name.hpp>
#include <jobssh/common/user_output.hpp>
#include <jobssh/connect/control_master.hpp>
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

namespace {

// How the gateway's ssh reaches a runner and logs in, before the destination: the session's
// hop and the master to that runner take the same.
std::vector<std::string> hop_connection_options(const config& cfg, const fs::path& log) {
    const gateway_config& gateway = cfg.gateway;
    return {// the login user's ~/.ssh/config has no say in this
            "-F",
            "none",
            "-p",
            std::to_string(gateway.ssh_port),
            "-i",
            gateway.identity.string(),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "IdentityAgent=none",
            "-o",
            "UserKnownHostsFile=" + gateway.known_hosts.string(),
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "CheckHostIP=no",
            "-o",
            "UpdateHostKeys=no",
            "-o",
            "BatchMode=yes",
            "-o",
            "ClearAllForwardings=yes",
            "-o",
            "ConnectTimeout=" +
                std::to_string(std::max<long long>(
                    1, std::chrono::duration_cast<std::chrono::seconds>(cfg.http_timeout).count())),
            "-o",
            "ServerAliveInterval=30",
            "-o",
            "ServerAliveCountMax=4",
            "-o",
            "LogLevel=ERROR",
            "-E",
            log.string()};
}

// A master to a runner is kept this long with no session on it.
constexpr std::chrono::seconds runner_master_idle{300};

std::string runner_name(const config& cfg, const runner_address& runner) {
    return runner.host + ":" + std::to_string(cfg.gateway.ssh_port);
}

std::uint64_t fnv1a(std::string_view bytes, std::uint64_t hash = 0xcbf29ce484222325ULL) {
    for (char c : bytes)
        hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
    return hash;
}

std::string hex(std::uint64_t value, int digits) {
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
    return std::string(text + 16 - digits);
}

// mux-<host>-<port>-<what it was made with> under state-dir, or mux-<hash> when that is too
// long for a socket path. What it was made with (the runners' pinned host keys, the
// gateway's identity and user) is part of the name: a master made before the operator changed
// known-hosts is not ridden after, its runner's key is checked again by a new one.
std::optional<fs::path> runner_master_socket(const config& cfg, const runner_address& runner) {
    const gateway_config& gateway = cfg.gateway;
    std::string known_hosts;
    if (unique_fd fd{::open(gateway.known_hosts.c_str(), O_RDONLY | O_CLOEXEC)}) {
        char buffer[4096];
        ssize_t n;
        while (known_hosts.size() < (1 << 20) && (n = ::read(fd.get(), buffer, sizeof buffer)) > 0)
            known_hosts.append(buffer, static_cast<std::size_t>(n));
    }
    auto made_with =
        fnv1a(gateway.ssh_user + '\0' + gateway.identity.string() + '\0' + known_hosts);
    auto port = std::to_string(gateway.ssh_port);
    if (auto named = control_path(cfg.state_dir,
                                  "mux-" + runner.host + "-" + port + "-" + hex(made_with, 8)))
        return named;
    return control_path(cfg.state_dir,
                        "mux-" + hex(fnv1a(runner.host + ":" + port, made_with), 16));
}

// The master to `runner` for the hop to ride (the one that answers, or one made now);
// nullopt: the hop connects by itself, and syslog says why. A runner that cannot be reached
// or refuses the gateway's key is the session's failure, as without a master.
asio::awaitable<std::optional<fs::path>> runner_master(const config& cfg,
                                                       const runner_address& runner) {
    const std::string name = runner_name(cfg, runner);
    auto socket = runner_master_socket(cfg, runner);
    if (!socket) {
        log_error(log_fields()
                      .add("event", "multiplex")
                      .add("runner", name)
                      .add("outcome", "off")
                      .add("reason", "state-dir too long for a unix socket path")
                      .add("state_dir", cfg.state_dir.string()));
        co_return std::nullopt;
    }
    std::optional<hop_log> said;
    try {
        said.emplace(cfg.state_dir);
    } catch (const std::system_error& e) {
        throw failure_error(failure::internal, std::string("hop log: ") + e.what());
    }
    auto options = hop_connection_options(cfg, said->file());
    // The hop's LANG and LC_* pass the master's SendEnv too.
    options.insert(options.end(),
                   {"-o", "SendEnv=LANG LC_*", "--", cfg.gateway.ssh_user + "@" + runner.host});
    // Its handshake (ConnectTimeout), or the one another session is making, and some.
    auto bound = std::max<std::chrono::milliseconds>(cfg.http_timeout, std::chrono::seconds(1)) +
                 std::chrono::seconds(5);
    co_return co_await master_to_ride(
        *socket, std::move(options), runner_master_idle, bound, [&said] { return said->text(); },
        log_fields().add("runner", name),
        [&](const master_outcome& outcome) {
            if (outcome.exit_status != 255 || outcome.ssh_said.empty())
                return false;
            if (vm_ssh_failure(255, outcome.ssh_said) == failure::vm_host_key)
                throw failure_error(failure::runner_host_key,
                                    "runner " + name + ": " + outcome.ssh_said);
            throw failure_error(failure::runner_unreachable,
                                "runner " + name + ": " + outcome.ssh_said);
        });
}

} // namespace

std::vector<std::string> hop_ssh_argv(const config& cfg, const runner_address& runner, bool tty,
                                      const fs::path& log, std::string remote_command,
                                      const std::optional<fs::path>& master) {
    std::vector<std::string> argv{tty ? "-tt" : "-T", "-e", "none"};
    auto connection = hop_connection_options(cfg, log);
    argv.insert(argv.end(), connection.begin(), connection.end());
    argv.insert(argv.end(), {"-o", "SendEnv=LANG LC_*"});
    if (master) {
        auto ride = ride_master_options(*master);
        argv.insert(argv.end(), ride.begin(), ride.end());
    } else {
        argv.insert(argv.end(), {"-o", "ControlMaster=no", "-o", "ControlPath=none"});
    }
    argv.insert(argv.end(),
                {"--", cfg.gateway.ssh_user + "@" + runner.host, std::move(remote_command)});
    return argv;
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
    std::optional<fs::path> master;
    if (cfg.multiplex)
        master = co_await runner_master(cfg, runner);
    auto args = hop_ssh_argv(cfg, runner, tty, log->file(),
                             gateway_command(user, fingerprint, original_command), master);

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
    // The user's end went away under the hop (their ssh killed or cut off): a hang-up, as the
    // runner's session logs it, not the status the hop's ssh had once it was stopped.
    if (result.end == session_end::hangup)
        throw user_hung_up(tty ? SIGHUP : SIGPIPE);
    const std::string name = runner_name(cfg, runner);
    // 255 is ssh's own failure; with something in its log, the hop itself failed (a runner's
    // session that exits 255 leaves the log empty). A master gone since it was seen answering
    // made ssh connect by itself: syslog hears of it.
    std::string about_master;
    const std::string said = without_master_complaints(log->text(), about_master);
    if (!about_master.empty())
        log_error(log_fields()
                      .add("event", "multiplex")
                      .add("runner", name)
                      .add("outcome", "connected_alone")
                      .add("ssh", about_master));
    if (result.end == session_end::child_exited && result.exit_status == 255 && !said.empty()) {
        if (vm_ssh_failure(255, said) == failure::vm_host_key)
            throw failure_error(failure::runner_host_key, "runner " + name + ": " + said);
        throw failure_error(failure::runner_unreachable, "runner " + name + ": " + said);
    }
    write_all(STDERR_FILENO, result.held_stderr);
    co_return result.exit_status;
}

} // namespace jobssh
