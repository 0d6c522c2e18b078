#pragma once

// Who is asking, and about which job: a session asks meta about the key and the runner (on a
// gateway, every runner) about the job at once, then tells the answers in a fixed order,
// whichever came first.

#include <algorithm>
#include <boost/asio/awaitable.hpp>
#include <exception>
#include <jobssh/api/meta.hpp>
#include <jobssh/api/runner.hpp>
#include <jobssh/common/failure.hpp>
#include <jobssh/shell/command.hpp>
#include <jobssh/shell/session_log.hpp>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace jobssh {

struct config;

// One concurrent lookup's result, kept instead of thrown, so that the order in which
// failures are told (key first, then job, then permission) does not depend on timing.
template <class T>
struct lookup_outcome {
    T value{};
    std::exception_ptr error;
};

// Runs `operation` to its end: its value, or what it threw (any std::exception).
template <class T>
boost::asio::awaitable<lookup_outcome<T>> attempt(boost::asio::awaitable<T> operation) {
    // Filled step by step: GCC 12 miscompiles a co_await inside a braced initializer.
    lookup_outcome<T> result;
    try {
        result.value = co_await std::move(operation);
    } catch (const std::exception&) {
        result.error = std::current_exception();
    }
    co_return result;
}

// Whose key `b64key` (base64, as sshd's %k gives it) is: told by jobssh-keys (`owner`, from
// its --owner: it asked meta a moment ago), or asked of meta here (meta.sr.ht's GET
// /api/ssh-key/{b64key}, lookup_key). With an owner, the fingerprint is computed here, the
// SHA256: one sshd logs, so that both records name the same key. nullopt when meta does not
// know the key, or `owner` comes with a string that is no key. Throws failure_error
// (temporary) as lookup_key does.
boost::asio::awaitable<std::optional<ssh_key>> key_of(const config& cfg, std::string b64key,
                                                      std::optional<std::string> owner);

// Whether `user`, not the job's owner, may have this session: watch and replay are open to the
// job's `viewers` (an optional field of the runner's job info, docs/design.md; builds.sr.ht's own
// worker sends none); connect and tail never are.
bool may_view(const command& cmd, const job_info& info, const std::string& user);

// The answers of both lookups, told in a fixed order: the key first, then the job, then
// whether the key's owner may have this session (the job's owner, as builds.sr.ht allows, or
// for watch and replay one of the runner's viewers). Returns the job found (`Job`: job_info,
// or a gateway's located_job, whose job_info `info_of` gives). Once the key is known,
// `record` gets its owner and, unless a gateway carried the session, its fingerprint.
// Throws what a lookup threw (the key's first), or failure_error: unknown_key, no_such_job
// (with `nowhere` for the operator), not_permitted (connect, tail) or not_permitted_view
// (watch, replay).
template <class Job, class InfoOf>
Job permitted_job(lookup_outcome<std::optional<ssh_key>>& key_lookup,
                  lookup_outcome<std::optional<Job>>& job_lookup, session_record& record,
                  const char* nowhere, const command& cmd, InfoOf info_of) {
    if (key_lookup.error)
        std::rethrow_exception(key_lookup.error);
    if (!key_lookup.value)
        throw failure_error(failure::unknown_key, "meta does not know the key");
    const ssh_key& key = *key_lookup.value;
    record.user = key.owner.name;
    if (record.gateway_key.empty()) // through a gateway, the key is the gateway's
        record.fingerprint = key.fingerprint;
    if (job_lookup.error)
        std::rethrow_exception(job_lookup.error);
    if (!job_lookup.value)
        throw failure_error(failure::no_such_job, nowhere);
    const job_info& info = info_of(*job_lookup.value);
    if (key.owner.name != info.username && !may_view(cmd, info, key.owner.name)) {
        bool viewing = std::holds_alternative<watch_command>(cmd) ||
                       std::holds_alternative<replay_command>(cmd);
        throw failure_error(viewing ? failure::not_permitted_view : failure::not_permitted,
                            "the job belongs to " + info.username);
    }
    return std::move(*job_lookup.value);
}

} // namespace jobssh
