#include <boost/asio/this_coro.hpp>
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
#include <jobssh/connect/control_master.hpp>
#include <jobssh/connect/job_master.hpp>
#include <jobssh/connect/relay.hpp>
#include <jobssh/connect/session_registry.hpp>
#include <jobssh/connect/terminal.hpp>
#include <jobssh/connect/vm_life.hpp>
#include <jobssh/connect/vm_ssh.hpp>
#include <jobssh/connect/vm_wait.hpp>
#include <optional>
#include <stdexcept>
#include <sys/ioctl.h>
#include <system_error>
#include <termios.h>
#include <unistd.h>
#include <vector>

namespace jobssh {

namespace asio = boost::asio;

namespace {

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

log_fields session_line(job_id job, const ssh_key& key) {
    log_fields line;
    line.add("job", job).add("user", key.owner.name);
    return line;
}

struct session_outcome {
    session_result result;
    std::string ssh_said; // ssh's own diagnostics, for the operator
    std::optional<failure> ssh_failed;
};

// Keys typed before the VM's shell started (during the tail of a running job, while the VM
// booted) were echoed by the user's terminal but meant for nothing yet: they are discarded,
// not run on the VM once its shell reads them, and the user is told when a whole line was.
void discard_typeahead() {
    int pending = 0;
    if (::ioctl(STDIN_FILENO, FIONREAD, &pending) != 0)
        pending = 0;
    if (::tcflush(STDIN_FILENO, TCIFLUSH) == 0 && pending > 0)
        write_all(STDERR_FILENO, "jobssh: what was typed before the VM's shell started was "
                                 "discarded.\n");
}

// ssh riding a master that went away after it was seen answering connects by itself, and
// says so: that goes to syslog, not into what the session's ssh said.
std::string said_about_vm(const std::string& said, job_id job, const ssh_key& key) {
    std::string about_master;
    std::string kept = without_master_complaints(said, about_master);
    if (!about_master.empty())
        log_error(session_line(job, key)
                      .add("event", "multiplex")
                      .add("outcome", "connected_alone")
                      .add("ssh", about_master));
    return kept;
}

asio::awaitable<session_outcome> run_vm_session(const config& cfg, job_id job, const job_info& info,
                                                const ssh_key& key,
                                                const std::string& remote_command, bool tty,
                                                job_session& session, screen_observer* observer) {
    std::optional<pinned_host_keys> pinned;
    std::optional<ssh_diagnostics> diagnostics;
    try {
        // Files of the session in state-dir itself, not in directories of their own that
        // would stay behind, empty, when the session ends.
        diagnostics.emplace(cfg.state_dir);
        if (!info.host_keys.empty())
            pinned.emplace(cfg.state_dir, info);
    } catch (const std::invalid_argument& e) {
        throw failure_error(failure::internal, std::string("runner sent bad VM data: ") + e.what());
    } catch (const std::system_error& e) {
        throw failure_error(failure::internal, std::string("state-dir: ") + e.what());
    }
    session_outcome outcome;

    auto known_hosts = pinned ? std::optional(pinned->file()) : std::nullopt;
    std::vector<std::string> ssh_args;
    try {
        ssh_args = vm_ssh_argv(cfg, info, tty, remote_command, {known_hosts, diagnostics->file()});
    } catch (const std::invalid_argument& e) {
        throw failure_error(failure::internal, std::string("runner sent bad VM data: ") + e.what());
    }

    // The VM data checked above, nothing is promised before the VM answers (the job is
    // claimed only once the session started).
    bool booted = co_await wait_until_vm_answers(info);
    if (!pinned && booted) {
        job_info latest = info;
        latest.host_keys = co_await host_keys_once_booted(cfg, job, info);
        try {
            if (!latest.host_keys.empty()) {
                pinned.emplace(cfg.state_dir, latest);
                ssh_args = vm_ssh_argv(cfg, latest, tty, remote_command,
                                       {pinned->file(), diagnostics->file()});
            }
        } catch (const std::invalid_argument& e) {
            throw failure_error(failure::internal,
                                std::string("runner sent bad VM data: ") + e.what());
        } catch (const std::system_error& e) {
            throw failure_error(failure::internal, std::string("state-dir: ") + e.what());
        }
    }
    if (!pinned)
        log_info(session_line(job, key).add("host_keys", "none").add("vm_host_key", "unchecked"));
    known_hosts = pinned ? std::optional(pinned->file()) : std::nullopt;
    if (tty)
        discard_typeahead();
    // As in builds.sr.ht, one command gets no banner: its output is the command's alone.
    // Without a pty, stdout is the VM shell's alone too (it may be piped somewhere): the
    // banner goes to stderr, beside the hint.
    if (remote_command.empty()) {
        std::string banner = connect_banner(cfg, job, info, std::chrono::system_clock::now());
        if (observer)
            banner.insert(banner.size() - 1, observer->banner_note());
        write_all(tty ? STDOUT_FILENO : STDERR_FILENO, banner);
        // A shell without a terminal shows no prompt: say why (commands may still come on
        // stdin, so the session goes on).
        if (!tty)
            write_all(STDERR_FILENO, no_terminal_hint(job));
    } else if (observer) {
        // A one-command session with a pty is recorded too: said where its output is not.
        write_all(STDERR_FILENO, observer->banner_note());
    }
    // A VM's sshd that drops connections before the key exchange (MaxStartups: many sessions
    // starting at once) is busy, not gone: the master and ssh are tried again, with backoff,
    // within the bound of the wait for the VM.
    const auto give_up = std::chrono::steady_clock::now() + vm_wait_bound(info);
    std::chrono::milliseconds backoff{100};
    const log_fields line = session_line(job, key);
    if (cfg.multiplex) {
        if (auto master = co_await job_master(cfg, job, info, line, known_hosts, give_up, backoff))
            ssh_args = vm_ssh_argv(cfg, info, tty, remote_command,
                                   {known_hosts, diagnostics->file(), master});
    }

    session_options options;
    if (info.deadline != std::chrono::sys_seconds{})
        options.deadline = info.deadline;
    // jobssh-shell races the whole session with the signals that end it.
    options.catch_signals = false;
    options.observer = observer;
    // "Started" (the VM's life): the inner ssh authenticated and opened its session channel,
    // seen as ssh making its pty raw; without a pty, the command's first byte of output.
    options.on_started = [&session] { session.started(); };
    for (;;) {
        try {
            // Two statements: GCC 12 miscompiles co_await inside a conditional expression.
            if (tty)
                outcome.result = co_await relay_on_pty("ssh", ssh_args, {}, options);
            else
                outcome.result = co_await relay_with_pipes("ssh", ssh_args, {}, options);
        } catch (const std::system_error& e) {
            throw failure_error(failure::internal, std::string("cannot run ssh: ") + e.what());
        }
        outcome.ssh_said = said_about_vm(diagnostics->text(), job, key);
        outcome.ssh_failed = vm_ssh_failure(outcome.result.exit_status, outcome.ssh_said);
        auto now = std::chrono::steady_clock::now();
        // A try that took some of the user's stdin is not made again: the next would run the
        // command without it.
        if (!outcome.ssh_failed || session.has_started() || outcome.result.read_input ||
            !dropped_before_login(outcome.ssh_said) || now + backoff >= give_up)
            co_return outcome;
        if (!co_await pause_before_retry(line, outcome.ssh_said, diagnostics->file(), backoff))
            co_return outcome;
    }
}

// An interactive shell at its prompt never dies of SIGINT or SIGQUIT (bash ignores both
// there): a shell on a pty that ended with 130 or 131 was killed by a Ctrl-C or Ctrl-\ the
// user typed before it was theirs (during its start-up files, just after the banner), so the
// session never reached the user's shell and leaves the VM as it found it.
bool reached_users_shell(const std::string& remote_command, bool tty,
                         const session_result& result) {
    if (!remote_command.empty() || !tty || result.end != session_end::child_exited)
        return true;
    return result.exit_status != 128 + SIGINT && result.exit_status != 128 + SIGQUIT;
}

} // namespace

std::string no_terminal_hint(job_id job) {
    return "No terminal: for an interactive shell use ssh -t ... connect " + std::to_string(job) +
           "\n";
}

std::string humanize_from_now(std::chrono::system_clock::time_point when,
                              std::chrono::system_clock::time_point now) {
    using namespace std::chrono;
    double seconds = duration<double>(when - now).count();
    const char* direction = seconds >= 0 ? " from now" : " ago";
    seconds = std::fabs(seconds);
    // Rounded down (seconds is not negative here), as Python humanize does: a VM with 94 s
    // left has "a minute", not 2.
    auto in = [&](double unit) { return static_cast<long long>(seconds / unit); };
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
                                   const ssh_key& key, const std::string& remote_command,
                                   screen_observer* observer) {
    bool tty = is_terminal(STDIN_FILENO);
    if (!tty)
        observer = nullptr; // only a pty session has a screen to show

    // Joined before the wait for the VM, so that a session ending meanwhile as the job's
    // last leaves the VM to us; claimed only once started (job_session).
    job_session session(co_await asio::this_coro::executor, cfg, job,
                        remote_command.empty() ? session_kind::interactive : session_kind::command,
                        key.owner.name);
    log_info(session_line(job, key).add("event", "connect").add("tty", tty ? "yes" : "no"));

    std::exception_ptr failed;
    session_outcome outcome;
    try {
        outcome =
            co_await run_vm_session(cfg, job, info, key, remote_command, tty, session, observer);
    } catch (...) {
        failed = std::current_exception();
    }
    // A session cancelled before the relay took over (the user left) still ends here.
    co_await asio::this_coro::reset_cancellation_state();
    // Without a pty, a command that ran and exited without a byte of output started too;
    // ssh's own 255 (it never got in) did not. (On a pty, ssh killed by a Ctrl-C before it
    // made its terminal raw exits 130: not started.)
    if (!failed && !tty && outcome.result.end == session_end::child_exited &&
        outcome.result.exit_status != 255 && !outcome.ssh_failed)
        session.started();
    // Asked before terminate, which would take the VM away itself.
    bool vm_gone = false;
    if (!failed && !outcome.ssh_failed)
        vm_gone = co_await vm_went_away(info, outcome.result);

    // builds.sr.ht terminates the VM when the user logs out; with several sessions on one
    // job, only when the last of them ends, and after a command only once it lingered.
    bool reached = failed || reached_users_shell(remote_command, tty, outcome.result);
    bool last = co_await session.leave(reached);
    if (failed)
        std::rethrow_exception(failed);

    const auto& result = outcome.result;
    log_info(session_line(job, key)
                 .add("event", "disconnect")
                 .add("end", end_name(result.end))
                 .add("status", result.exit_status)
                 .add("last", last ? "yes" : "no")
                 .add("shell", reached ? "reached" : "not_reached"));
    // ssh's own account of our plumbing (temporary files, loopback ports, advice to remove a
    // pinned key) is the operator's to read; the user gets our message.
    if (!outcome.ssh_said.empty())
        log_error(session_line(job, key).add("event", "vm_ssh").add("ssh", outcome.ssh_said));
    if (outcome.ssh_failed)
        throw failure_error(*outcome.ssh_failed, "ssh to the VM failed");
    write_all(STDERR_FILENO, result.held_stderr);
    if (vm_gone)
        throw failure_error(failure::vm_gone, "the VM went away during the session");
    co_return result.exit_status;
}

} // namespace jobssh
