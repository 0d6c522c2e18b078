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
#include <jobssh/gateway/find_runner.hpp>
#include <jobssh/gateway/hop.hpp>
#include <jobssh/shell/command.hpp>
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
    return "Usage: ssh ... connect <job ID>\n"
           "       ssh ... connect <job ID> [--] <command> [<argument>...]\n"
           "       ssh ... tail <job ID>\n"
           "\n"
           "connect  follow the job's logs while it runs, then open a shell on its VM\n"
           "         (or run one command there and return its exit status)\n"
           "tail     print the job's logs from the start and follow them until it ends;\n"
           "         exits 0 when the job succeeded, 1 otherwise\n";
}

namespace {

// What syslog gets about one session.
struct session_record {
    std::optional<job_id> job;
    std::string user;
    std::string fingerprint;
    std::string command;
    std::string outcome;           // when the session did not fail
    std::optional<failure> failed; // outcome and log level then come from the table
    int exit_code = 0;
};

void log_session(const session_record& record, std::chrono::steady_clock::duration took,
                 const std::string& detail) {
    log_fields line;
    line.add("job", record.job ? std::to_string(*record.job) : "-")
        .add("user", record.user.empty() ? "-" : record.user)
        .add("key", record.fingerprint.empty() ? "-" : record.fingerprint)
        .add("command", record.command.empty() ? "-" : record.command)
        .add("outcome", record.failed ? failure_name(*record.failed) : record.outcome)
        .add("exit", record.exit_code)
        .add("duration_ms", std::chrono::duration_cast<std::chrono::milliseconds>(took).count());
    if (!detail.empty())
        line.add("detail", detail);
    log(record.failed ? traits(*record.failed).level : log_level::info, line);
}

// One concurrent lookup's result, kept instead of thrown, so that the order in which
// failures are told (key first, then job, then permission) does not depend on timing.
template <class T>
struct lookup {
    T value{};
    std::exception_ptr error;
};

template <class T>
asio::awaitable<lookup<T>> attempt(asio::awaitable<T> operation) {
    // Filled step by step: GCC 12 miscompiles a co_await inside a braced initializer.
    lookup<T> result;
    try {
        result.value = co_await std::move(operation);
    } catch (const std::exception&) {
        result.error = std::current_exception();
    }
    co_return result;
}

// SIGHUP, SIGTERM or a reader that went away: the user is gone, the session ends quietly.
asio::awaitable<int> until_hangup(user_output& out) {
    asio::signal_set signals(co_await asio::this_coro::executor, SIGHUP, SIGTERM);
    // Both waits end without an exception when the session ends otherwise (cancelled): the
    // value is not used then.
    auto ended = co_await (signals.async_wait(default_token()) || out.wait_hangup());
    if (ended.index() == 0)
        co_return 128 + std::get<1>(std::get<0>(ended));
    co_return 128 + SIGPIPE;
}

struct hung_up {
    int exit_code;
};

// A struct, not a bare variant: `||` would flatten a variant into its own.
struct tail_end {
    std::variant<tail_result, hung_up, std::exception_ptr> how;
};

// `||` waits for the first branch to succeed: the tail's failures come back as values, or
// a runner that went away would leave the session waiting for a hangup.
asio::awaitable<tail_end> tail_to_its_end(const config& cfg, job_id job, job_info info,
                                          user_output& out) {
    tail_end ended;
    try {
        ended.how = co_await tail_job(cfg, job, std::move(info), out);
    } catch (const user_hung_up&) {
        ended.how = hung_up{128 + SIGPIPE};
    } catch (const std::exception&) {
        ended.how = std::current_exception();
    }
    co_return ended;
}

// The tail part of a session; hung_up when the user left before the job finished.
asio::awaitable<std::variant<tail_result, hung_up>> tail_phase(const config& cfg, job_id job,
                                                               job_info info) {
    user_output out(co_await asio::this_coro::executor);
    auto ended = co_await (tail_to_its_end(cfg, job, std::move(info), out) || until_hangup(out));
    if (ended.index() == 1)
        co_return hung_up{std::get<1>(ended)};
    auto& tail = std::get<0>(ended).how;
    if (auto* error = std::get_if<std::exception_ptr>(&tail))
        std::rethrow_exception(*error);
    if (auto* gone = std::get_if<hung_up>(&tail))
        co_return *gone;
    co_return std::get<tail_result>(std::move(tail));
}

// Whose key it is: told by jobssh-keys (`--owner`, it asked meta a moment ago), or asked
// of meta here. The fingerprint is the one sshd logs, so both records name the same key.
asio::awaitable<std::optional<ssh_key>> key_of(const config& cfg, std::string b64key,
                                               std::optional<std::string> owner) {
    if (!owner)
        co_return co_await lookup_key(cfg, b64key);
    if (!valid_key(b64key)) // as lookup_key: not a key anyone has
        co_return std::nullopt;
    ssh_key key;
    key.fingerprint = key_fingerprint(b64key);
    key.key = std::move(b64key);
    key.owner = key_owner{"~" + *owner, *owner};
    co_return key;
}

// The answers of both lookups, told in a fixed order: the key first, then the job, then
// whether the key's owner owns the job. Returns the job found.
template <class Job, class OwnerOf>
Job permitted_job(lookup<std::optional<ssh_key>>& key_lookup,
                  lookup<std::optional<Job>>& job_lookup, session_record& record,
                  const char* nowhere, OwnerOf owner_of) {
    if (key_lookup.error)
        std::rethrow_exception(key_lookup.error);
    if (!key_lookup.value)
        throw failure_error(failure::unknown_key, "meta does not know the key");
    const ssh_key& key = *key_lookup.value;
    record.user = key.owner.name;
    record.fingerprint = key.fingerprint;
    if (job_lookup.error)
        std::rethrow_exception(job_lookup.error);
    if (!job_lookup.value)
        throw failure_error(failure::no_such_job, nowhere);
    std::string job_owner = owner_of(*job_lookup.value);
    if (key.owner.name != job_owner)
        throw failure_error(failure::not_permitted, "the job belongs to " + job_owner);
    return std::move(*job_lookup.value);
}

// On a gateway: the job's runner found by asking every runner, key and owner checked here
// (a stranger's session makes no hop), then the session carried to that runner's jobssh,
// which checks the owner again.
asio::awaitable<int> run_gateway_session(const config& cfg, std::string b64key,
                                         std::optional<std::string> owner, job_id job,
                                         session_record& record) {
    // Who is asking, and where the job is: both questions at once.
    auto [job_lookup, key_lookup] =
        co_await (attempt(find_job_runner(cfg, job)) && attempt(key_of(cfg, b64key, owner)));
    located_job found = permitted_job(key_lookup, job_lookup, record, "no runner knows the job",
                                      [](const located_job& at) { return at.info.username; });
    const ssh_key& key = *key_lookup.value;
    log_info(log_fields()
                 .add("job", job)
                 .add("user", key.owner.name)
                 .add("event", "hop")
                 .add("runner", found.runner.host + ":" + std::to_string(found.runner.port)));
    int status = co_await hop_to_runner(cfg, found.runner, key.owner.name, record.command);
    record.outcome = "hop";
    co_return status;
}

asio::awaitable<int> run_session(const config& cfg, std::string b64key,
                                 std::optional<std::string> owner, command cmd,
                                 session_record& record) {
    job_id job = std::holds_alternative<tail_command>(cmd) ? std::get<tail_command>(cmd).job
                                                           : std::get<connect_command>(cmd).job;
    record.job = job;
    if (!cfg.gateway.runners.empty())
        co_return co_await run_gateway_session(cfg, std::move(b64key), std::move(owner), job,
                                               record);

    // Who is asking, and about what: both questions at once.
    auto [job_lookup, key_lookup] =
        co_await (attempt(fetch_job_info(cfg, job)) && attempt(key_of(cfg, b64key, owner)));
    job_info info =
        permitted_job(key_lookup, job_lookup, record, "the runner does not know the job",
                      [](const job_info& at) { return at.username; });
    const ssh_key& key = *key_lookup.value;

    if (std::holds_alternative<tail_command>(cmd)) {
        auto tailed = co_await tail_phase(cfg, job, std::move(info));
        if (auto* gone = std::get_if<hung_up>(&tailed)) {
            record.outcome = "hangup";
            co_return gone->exit_code;
        }
        const tail_result& result = std::get<tail_result>(tailed);
        record.outcome =
            result.exit_code == 0 ? "success" : "job_" + std::string(to_string(result.info.status));
        co_return result.exit_code;
    }

    const connect_command& connect = std::get<connect_command>(cmd);
    if (!job_finished(info)) {
        auto tailed = co_await tail_phase(cfg, job, std::move(info));
        if (auto* gone = std::get_if<hung_up>(&tailed)) {
            record.outcome = "hangup";
            co_return gone->exit_code;
        }
        info = std::move(std::get<tail_result>(tailed).info);
    }
    int status = co_await connect_to_vm(cfg, job, info, key, connect.argv);
    record.outcome = "connected";
    co_return status;
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
    // A user who hangs up must not kill us mid-write: EPIPE is handled where we write.
    ignore_sigpipe();
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
                record.fingerprint = key_fingerprint(args->b64key);
            if (cfg.gateway.gateway_keys.empty() ||
                !listed_gateway_key(cfg.gateway.gateway_keys, args->b64key))
                throw failure_error(failure::not_permitted, "--gateway with an unlisted key");
            auto request = parse_gateway_command(record.command);
            if (!request)
                throw failure_error(failure::not_permitted,
                                    "a gateway key without a user named: " + record.command);
            args->owner = request->user;
            record.user = request->user;
            record.command = request->original_command;
        }
        command cmd = parse_command(record.command);
        if (std::holds_alternative<help_command>(cmd)) {
            write_all(STDOUT_FILENO, usage_text());
            record.outcome = "help";
        } else {
            asio::io_context io;
            std::exception_ptr error;
            asio::co_spawn(io, run_session(cfg, args->b64key, args->owner, std::move(cmd), record),
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
        finish(error.kind(), error.what());
    } catch (const std::exception& error) {
        finish(failure::internal, error.what());
    }
    log_session(record, std::chrono::steady_clock::now() - started, detail);
    return record.exit_code;
}

} // namespace jobssh
