#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <jobssh/api/meta.hpp>
#include <jobssh/api/runner.hpp>
#include <jobssh/common/config.hpp>
#include <jobssh/common/default_token.hpp>
#include <jobssh/common/failure.hpp>
#include <jobssh/common/gateway_keys.hpp>
#include <jobssh/common/posix.hpp>
#include <jobssh/common/ssh_key_format.hpp>
#include <jobssh/common/syslog.hpp>
#include <jobssh/common/user_name.hpp>
#include <jobssh/common/user_output.hpp>
#include <jobssh/connect/connect.hpp>
#include <jobssh/connect/terminal.hpp>
#include <jobssh/gateway/find_runner.hpp>
#include <jobssh/gateway/hop.hpp>
#include <jobssh/recording/playback.hpp>
#include <jobssh/recording/session_recorder.hpp>
#include <jobssh/shell/command.hpp>
#include <jobssh/shell/file_transfer.hpp>
#include <jobssh/shell/lookups.hpp>
#include <jobssh/shell/session_log.hpp>
#include <jobssh/shell/shell.hpp>
#include <jobssh/tail/tail.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unistd.h>
#include <variant>

namespace jobssh {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

std::string usage_text() {
    return std::string(traits(failure::usage).message) +
           "\n"
           "connect  follow the job's logs while it runs, then open a shell on its VM\n"
           "         (ssh -t gives it a terminal), or run one command there and return\n"
           "         its exit status\n"
           "tail     print the job's logs from the start and follow them until it ends;\n"
           "         exits 0 when the job succeeded, 1 otherwise\n"
           "watch    show the live screen of the job's session, read-only (q or Ctrl-C leaves);\n"
           "         with several, the newest, or the n-th\n"
           "replay   list the job's recorded sessions, or play the n-th (q or Ctrl-C stops)\n";
}

namespace {

// The signals that end a session, whatever phase it is in: Ctrl-C and Ctrl-\ (backslash)
// from a terminal that is not raw yet (or anybody's kill), the user's terminal hanging up,
// an operator's SIGTERM.
constexpr std::array<int, 4> ending_signals{SIGINT, SIGQUIT, SIGHUP, SIGTERM};

// The user pressed a key to stop: say so. A hang-up or a SIGTERM has nobody to tell.
bool interrupted_by_user(int signal) {
    return signal == SIGINT || signal == SIGQUIT;
}

const char* signal_name(int signal) {
    switch (signal) {
    case SIGINT:
        return "SIGINT";
    case SIGQUIT:
        return "SIGQUIT";
    case SIGHUP:
        return "SIGHUP";
    case SIGTERM:
        return "SIGTERM";
    case SIGPIPE:
        return "SIGPIPE"; // the reader of our output went away, as a pipe's writer is told
    }
    return "signal";
}

// One of ending_signals, or how our stdout went: SIGHUP for a terminal, SIGPIPE for a pipe.
asio::awaitable<int> until_the_user_leaves(asio::signal_set& signals, user_output& out) {
    // Both waits end without an exception when the session ends otherwise (cancelled): the
    // value is not used then.
    auto ended = co_await (signals.async_wait(default_token()) || out.wait_hangup());
    if (ended.index() == 0)
        co_return std::get<1>(std::get<0>(ended));
    co_return std::get<1>(ended);
}

// On a gateway: the job's runner found by asking every runner, key and owner (or viewer)
// checked here (a stranger's session makes no hop), then the session carried to that
// runner's jobssh, which checks them again.
asio::awaitable<int> run_gateway_session(const config& cfg, std::string b64key,
                                         std::optional<std::string> owner, const command& cmd,
                                         job_id job, session_record& record) {
    // Who is asking, and where the job is: both questions at once.
    auto [job_lookup, key_lookup] =
        co_await (attempt(find_job_runner(cfg, job)) && attempt(key_of(cfg, b64key, owner)));
    located_job found =
        permitted_job(key_lookup, job_lookup, record, "no runner knows the job", cmd,
                      [](const located_job& at) -> const job_info& { return at.info; });
    const ssh_key& key = *key_lookup.value;
    log_info(log_fields()
                 .add("job", job)
                 .add("user", key.owner.name)
                 .add("event", "hop")
                 .add("runner", found.runner.host + ":" + std::to_string(found.runner.port)));
    int status =
        co_await hop_to_runner(cfg, found.runner, key.owner.name, key.fingerprint, record.command);
    record.outcome = "hop";
    co_return status;
}

asio::awaitable<int> run_session(const config& cfg, std::string b64key,
                                 std::optional<std::string> owner, command cmd,
                                 session_record& record, user_output& out) {
    job_id job = *job_of(cmd);
    record.job = job;
    if (!cfg.gateway.runners.empty())
        co_return co_await run_gateway_session(cfg, std::move(b64key), std::move(owner), cmd, job,
                                               record);

    // Who is asking, and about what: both questions at once.
    auto [job_lookup, key_lookup] =
        co_await (attempt(fetch_job_info(cfg, job)) && attempt(key_of(cfg, b64key, owner)));
    job_info info =
        permitted_job(key_lookup, job_lookup, record, "the runner does not know the job", cmd,
                      [](const job_info& at) -> const job_info& { return at; });
    const ssh_key& key = *key_lookup.value;

    if (auto* watch = std::get_if<watch_command>(&cmd)) {
        int status = co_await watch_session(cfg, job, watch->session, out);
        record.outcome = "watched";
        co_return status;
    }
    if (auto* replay = std::get_if<replay_command>(&cmd)) {
        int status = co_await replay_recording(cfg, job, replay->recording, replay->speed, out);
        record.outcome = replay->recording ? "replayed" : "listed";
        co_return status;
    }

    if (std::holds_alternative<tail_command>(cmd)) {
        tail_result result = co_await tail_job(cfg, job, std::move(info), out);
        record.outcome =
            result.exit_code == 0 ? "success" : "job_" + std::string(to_string(result.info.status));
        co_return result.exit_code;
    }

    const connect_command& connect = std::get<connect_command>(cmd);
    if (!job_finished(info)) {
        // With one command, stdout carries that command's output and nothing else: the
        // job's log goes to stderr.
        std::optional<user_output> log_out;
        if (!connect.remote_command.empty())
            log_out.emplace(co_await asio::this_coro::executor, STDERR_FILENO);
        // Named first: GCC 12 miscompiles a conditional inside a co_await expression.
        user_output& log = log_out ? *log_out : out;
        tail_result tailed = co_await tail_job(cfg, job, std::move(info), log);
        info = std::move(tailed.info);
    }
    std::optional<session_recorder> recorder;
    if (sessions_observed(cfg)) // used only when the session has a pty
        recorder.emplace(cfg, job, key.owner.name);
    int status = co_await connect_to_vm(cfg, job, info, key, connect.remote_command,
                                        recorder ? &*recorder : nullptr);
    record.outcome = "connected";
    co_return status;
}

// How a session ended, as a value: `||` waits for the first branch to *succeed*, so a
// session that failed must not look like one still running.
struct finished_session {
    int exit_code = 0;
    std::exception_ptr error;
    int interrupted_by = 0; // a signal the session was ended by without catching it
};

asio::awaitable<finished_session> session_to_its_end(const config& cfg, std::string b64key,
                                                     std::optional<std::string> owner, command cmd,
                                                     session_record& record, user_output& out) {
    finished_session ended;
    try {
        ended.exit_code = co_await run_session(cfg, std::move(b64key), std::move(owner),
                                               std::move(cmd), record, out);
    } catch (const user_hung_up& gone) {
        record.outcome = "hangup";
        ended.exit_code = 128 + gone.signal;
    } catch (const interrupted_during_hop& interrupted) {
        ended.interrupted_by = interrupted.signal;
    } catch (const std::exception&) {
        ended.error = std::current_exception();
    }
    co_return ended;
}

// Every phase of a session (key and job lookup, tail, waiting for the VM, claim, the session
// on the VM, its end) is raced here, once, with the signals and the hang-up that end it:
// the phase under way is cancelled and cleans up after itself (its destructors; the relay
// stops its child), and the session ends the same way whatever phase it was in.
asio::awaitable<int> run_until_it_ends(const config& cfg, std::string b64key,
                                       std::optional<std::string> owner, command cmd,
                                       session_record& record, asio::signal_set& signals,
                                       std::string& detail) {
    user_output out(co_await asio::this_coro::executor);
    auto ended = co_await (
        session_to_its_end(cfg, std::move(b64key), std::move(owner), std::move(cmd), record, out) ||
        until_the_user_leaves(signals, out));
    int signal = 0;
    if (ended.index() == 0) {
        auto& session = std::get<0>(ended);
        if (session.error)
            std::rethrow_exception(session.error);
        if (!session.interrupted_by) {
            if (record.outcome == "hangup")
                detail = signal_name(session.exit_code - 128); // a write found the user gone
            co_return session.exit_code;
        }
        signal = session.interrupted_by;
    } else {
        signal = std::get<1>(ended);
    }
    record.outcome = interrupted_by_user(signal) ? "interrupted" : "hangup";
    detail = signal_name(signal);
    if (interrupted_by_user(signal))
        write_all(STDERR_FILENO,
                  is_terminal(STDERR_FILENO) ? "\nInterrupted.\n" : "Interrupted.\n");
    co_return 128 + signal;
}

struct arguments {
    std::optional<std::filesystem::path> config_file;
    std::optional<std::string> owner;
    bool gateway = false; // the key is a gateway's: the user is named in the command
    std::string b64key;
};

// `[--config FILE] [--owner NAME | --gateway] B64KEY`; nullopt for anything else, an owner
// that is not a sr.ht user name included.
std::optional<arguments> parse_arguments(int argc, char** argv) {
    arguments parsed;
    int at = 1;
    if (at + 1 < argc && std::string_view(argv[at]) == "--config") {
        parsed.config_file = argv[at + 1];
        at += 2;
    }
    if (at + 1 < argc && std::string_view(argv[at]) == "--owner") {
        if (!valid_user_name(argv[at + 1]))
            return std::nullopt;
        parsed.owner = argv[at + 1];
        at += 2;
    } else if (at < argc && std::string_view(argv[at]) == "--gateway") {
        parsed.gateway = true;
        ++at;
    }
    if (at + 1 != argc || std::string_view(argv[at]).starts_with("-"))
        return std::nullopt;
    parsed.b64key = argv[at];
    return parsed;
}

int tell_user(failure kind, const config& cfg) {
    write_all(STDERR_FILENO, user_message(kind, cfg));
    return exit_code(kind);
}

} // namespace

int run_shell(int argc, char** argv) {
    // Ctrl-Z never stops jobssh-shell: a stopped session would hold its VM with nobody to
    // continue it (sshd is no shell, and has no `fg`).
    for (int signal : {SIGTSTP, SIGTTIN, SIGTTOU})
        std::signal(signal, SIG_IGN);
    // From the first moment, so that no signal of the session finds the default action
    // (death, with no cleanup and no record) between here and its end.
    asio::io_context io;
    asio::signal_set signals(io);
    for (int signal : ending_signals)
        signals.add(signal);
    const auto started = std::chrono::steady_clock::now();
    open_syslog("jobssh-shell");

    if (argc == 2 && std::string_view(argv[1]) == "--version") {
        write_all(STDOUT_FILENO, "jobssh-shell " JOBSSH_VERSION "\n");
        return 0;
    }

    session_record record;
    std::string detail;
    config cfg;
    auto finish = [&](failure kind, std::string why) {
        record.failed = kind;
        record.exit_code = tell_user(kind, cfg);
        detail = std::move(why);
    };

    std::optional<arguments> args = parse_arguments(argc, argv);
    if (!args) {
        finish(failure::usage,
               "jobssh-shell [--config FILE] [--owner NAME | --gateway] B64KEY: bad arguments");
        log_session(record, std::chrono::steady_clock::now() - started, detail);
        return record.exit_code;
    }

    try {
        cfg = find_config(args->config_file);
        send_syslog_to(cfg.syslog_socket);
        const char* original = std::getenv("SSH_ORIGINAL_COMMAND");
        record.command = original ? original : "";
        if (args->gateway) {
            // jobssh-keys let this key in as a gateway's; it is checked again before the
            // user it names is believed, and a person using it directly names nobody.
            if (valid_key(args->b64key))
                record.gateway_key = key_fingerprint(args->b64key);
            if (cfg.gateway.gateway_keys.empty() ||
                !listed_gateway_key(cfg.gateway.gateway_keys, args->b64key))
                throw failure_error(failure::not_permitted, "--gateway with an unlisted key");
            auto request = parse_gateway_command(record.command);
            if (!request)
                throw failure_error(failure::not_permitted,
                                    "a gateway key without a user named: " + record.command);
            args->owner = request->user;
            record.user = request->user;
            // The key the user authenticated with at the gateway; none from a gateway that
            // does not say (then only gateway_key= names a key).
            record.fingerprint = request->fingerprint;
            record.command = request->original_command;
        }
        command cmd = parse_command(record.command);
        if (std::holds_alternative<help_command>(cmd)) {
            write_all(STDOUT_FILENO, usage_text());
            record.outcome = "help";
        } else {
            std::exception_ptr error;
            asio::co_spawn(io,
                           run_until_it_ends(cfg, args->b64key, args->owner, std::move(cmd), record,
                                             signals, detail),
                           [&](std::exception_ptr e, int status) {
                               error = e;
                               record.exit_code = status;
                           });
            io.run();
            if (error)
                std::rethrow_exception(error);
        }
    } catch (const config_error& error) {
        finish(failure::config, error.what());
    } catch (const failure_error& error) {
        // An sftp client reads only its protocol, and sshd drops a subsystem's stderr.
        if (error.kind() == failure::file_transfer && sftp_request(record.command))
            refuse_sftp(traits(failure::file_transfer).message, std::chrono::seconds(10));
        finish(error.kind(), error.what());
    } catch (const std::exception& error) {
        finish(failure::internal, error.what());
    }
    log_session(record, std::chrono::steady_clock::now() - started, detail);
    return record.exit_code;
}

} // namespace jobssh
