#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>
#include <csignal>
#include <exception>
#include <jobssh/api/meta.hpp>
#include <jobssh/api/runner.hpp>
#include <jobssh/common/config.hpp>
#include <jobssh/common/default_token.hpp>
#include <jobssh/common/failure.hpp>
#include <jobssh/common/posix.hpp>
#include <jobssh/common/syslog.hpp>
#include <jobssh/connect/connect.hpp>
#include <jobssh/connect/relay.hpp>
#include <jobssh/connect/session_registry.hpp>
#include <jobssh/connect/terminal.hpp>
#include <jobssh/connect/vm_ssh.hpp>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <unistd.h>

namespace jobssh {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr std::chrono::seconds vm_boot_bound{30};

std::string counted(long long n, const char* one, const char* unit) {
    return n == 1 ? one : std::to_string(n) + " " + unit;
}

const char* end_name(session_end end) {
    switch (end) {
    case session_end::child_exited:
        return "logout";
    case session_end::hangup:
        return "hangup";
    case session_end::deadline:
        return "deadline";
    }
    return "unknown";
}

log_fields log_line(job_id job, const ssh_key& key) {
    log_fields line;
    line.add("job", job).add("user", key.owner.name);
    return line;
}

struct session_outcome {
    session_result result;
    std::string ssh_said; // ssh's own diagnostics, for the operator
    std::optional<failure> ssh_failed;
};

asio::awaitable<session_outcome> run_session(const config& cfg, job_id job, const job_info& info,
                                             const ssh_key& key, const std::string& remote_command,
                                             bool tty, asio::signal_set& hangup) {
    std::optional<pinned_host_keys> pinned;
    std::optional<ssh_diagnostics> diagnostics;
    try {
        diagnostics.emplace(cfg.state_dir / "ssh");
        if (!info.host_keys.empty())
            pinned.emplace(cfg.state_dir / "known_hosts", info);
        else
            log_info(log_line(job, key).add("host_keys", "none").add("vm_host_key", "unchecked"));
    } catch (const std::invalid_argument& e) {
        throw failure_error(failure::internal, std::string("runner sent bad VM data: ") + e.what());
    } catch (const std::system_error& e) {
        throw failure_error(failure::internal, std::string("state-dir: ") + e.what());
    }

    // A user who hangs up while the VM boots stops the wait too.
    auto waited = co_await (
        wait_for_vm(info, vm_boot_bound,
                    [] { write_all(STDERR_FILENO, "Waiting for the build VM to come up...\n"); }) ||
        hangup.async_wait(default_token()));
    session_outcome outcome;
    if (waited.index() == 1) {
        outcome.result.end = session_end::hangup;
        outcome.result.exit_status = 128 + SIGHUP;
        co_return outcome;
    }
    if (!std::get<0>(waited))
        throw failure_error(failure::vm_unreachable,
                            "VM port " + std::to_string(info.port) + " refused connections");

    std::vector<std::string> ssh_args;
    try {
        ssh_args = vm_ssh_argv(
            cfg, info, tty, remote_command,
            {pinned ? std::optional(pinned->file()) : std::nullopt, diagnostics->file()});
    } catch (const std::invalid_argument& e) {
        throw failure_error(failure::internal, std::string("runner sent bad VM data: ") + e.what());
    }

    session_options options;
    if (info.deadline != std::chrono::sys_seconds{})
        options.deadline = info.deadline;
    options.hangup_signals = &hangup;
    try {
        // Two statements: GCC 12 miscompiles co_await inside a conditional expression.
        if (tty)
            outcome.result = co_await relay_on_pty("ssh", ssh_args, {}, options);
        else
            outcome.result = co_await relay_with_pipes("ssh", ssh_args, {}, options);
    } catch (const std::system_error& e) {
        throw failure_error(failure::internal, std::string("cannot run ssh: ") + e.what());
    }
    outcome.ssh_said = diagnostics->text();
    outcome.ssh_failed = vm_ssh_failure(outcome.result.exit_status, outcome.ssh_said);
    co_return outcome;
}

} // namespace

std::string humanize_from_now(std::chrono::system_clock::time_point when,
                              std::chrono::system_clock::time_point now) {
    using namespace std::chrono;
    double seconds = duration<double>(when - now).count();
    const char* direction = seconds >= 0 ? " from now" : " ago";
    seconds = std::fabs(seconds);
    // Rounded half up (seconds is not negative here), as llround would, without libm.
    auto in = [&](double unit) { return static_cast<long long>(seconds / unit + 0.5); };
    std::string amount;
    if (in(1) == 0)
        return "now";
    if (in(1) < 60)
        amount = counted(in(1), "a second", "seconds");
    else if (in(60) < 60)
        amount = counted(in(60), "a minute", "minutes");
    else if (in(3600) < 24)
        amount = counted(in(3600), "an hour", "hours");
    else if (in(86400) < 365)
        amount = counted(in(86400), "a day", "days");
    else
        amount = counted(in(86400 * 365), "a year", "years");
    return amount + direction;
}

std::string connect_banner(const config& cfg, job_id job, const job_info& info,
                           std::chrono::system_clock::time_point now) {
    auto id = std::to_string(job);
    return "Connected to build job #" + id + " (" + std::string(to_string(info.status)) +
           "): " + cfg.builds_origin + "/~" + info.username + "/job/" + id + "\n" +
           "Your VM will be terminated " + humanize_from_now(info.deadline, now) +
           ", or when you log out.\n\n";
}

asio::awaitable<int> connect_to_vm(const config& cfg, job_id job, const job_info& info,
                                   const ssh_key& key, const std::string& remote_command) {
    // From here on a hang-up is ours to handle: it must not kill us before we cleaned up.
    asio::signal_set hangup(co_await asio::this_coro::executor, SIGHUP, SIGTERM);
    bool tty = is_terminal(STDIN_FILENO);

    // With one command, stdout carries that command's output and nothing else.
    write_all(remote_command.empty() ? STDOUT_FILENO : STDERR_FILENO,
              connect_banner(cfg, job, info, std::chrono::system_clock::now()));
    co_await claim_job(cfg, job);

    std::optional<session_registration> session;
    try {
        session.emplace(cfg.state_dir, job);
    } catch (const std::system_error& e) {
        throw failure_error(failure::internal, std::string("session registry: ") + e.what());
    }
    log_info(log_line(job, key).add("event", "connect").add("tty", tty ? "yes" : "no"));

    std::exception_ptr failed;
    session_outcome outcome;
    try {
        outcome = co_await run_session(cfg, job, info, key, remote_command, tty, hangup);
    } catch (...) {
        failed = std::current_exception();
    }

    bool last = session->leave();
    if (last) {
        // builds.sr.ht terminates the VM when the user logs out; with several sessions on
        // one job, only when the last of them ends.
        try {
            co_await terminate_job(cfg, job);
            log_info(log_line(job, key).add("event", "terminate"));
        } catch (const failure_error& e) {
            log_error(log_line(job, key)
                          .add("event", "terminate")
                          .add("outcome", "failed")
                          .add("detail", e.what()));
        }
    }
    if (failed)
        std::rethrow_exception(failed);

    const auto& result = outcome.result;
    log_info(log_line(job, key)
                 .add("event", "disconnect")
                 .add("end", end_name(result.end))
                 .add("status", result.exit_status)
                 .add("last", last ? "yes" : "no"));
    // ssh's own account of our plumbing (temporary files, loopback ports, advice to remove a
    // pinned key) is the operator's to read; the user gets our message.
    if (!outcome.ssh_said.empty())
        log_error(log_line(job, key).add("event", "vm_ssh").add("ssh", outcome.ssh_said));
    if (outcome.ssh_failed)
        throw failure_error(*outcome.ssh_failed, "ssh to the VM failed");
    write_all(STDERR_FILENO, result.held_stderr);
    co_return result.exit_status;
}

} // namespace jobssh
