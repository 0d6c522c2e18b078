#pragma once

// Every way a session can fail, in one table: the word syslog's `outcome` gets, the sysexits
// code, the syslog level and what the user is told.

#include <jobssh/common/syslog.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

namespace jobssh {

struct config;

enum class failure {
    usage,              // 64 EX_USAGE
    empty_command,      // 64 EX_USAGE: `connect <job> --` with no command after the `--`
    file_transfer,      // 64 EX_USAGE: scp, sftp or rsync, which a forced command cannot serve
    bad_job_id,         // 65 EX_DATAERR
    no_such_job,        // 66 EX_NOINPUT
    unknown_key,        // 77 EX_NOPERM
    not_permitted,      // 77 EX_NOPERM
    not_permitted_view, // 77 EX_NOPERM: `watch` or `replay` of a job the user may not see
    runner_unreachable, // 69 EX_UNAVAILABLE
    vm_unreachable,     // 69 EX_UNAVAILABLE
    no_vm,              // 69 EX_UNAVAILABLE: the job has no VM (port 0)
    vm_gone,            // 69 EX_UNAVAILABLE: the job ended and its VM is gone, or it died
    vm_host_key,        // 69 EX_UNAVAILABLE: the VM presented a key other than the pinned ones
    nothing_to_watch,   // 66 EX_NOINPUT: `watch` found no live session of the job
    no_recording,       // 66 EX_NOINPUT: `replay` found no such recording
    vm_login,           // 69 EX_UNAVAILABLE: the VM refused vm-identity
    runner_host_key,    // 69 EX_UNAVAILABLE: a gateway's runner presented an unknown key
    runner_timeout,     // 75 EX_TEMPFAIL: the runner did not answer within http-timeout
    temporary,          // 75 EX_TEMPFAIL: meta down, slow or confused: no key decided
    config,             // 78 EX_CONFIG
    internal,           // 70 EX_SOFTWARE
};

// One row of the table.
struct failure_traits {
    std::string_view name; // syslog's outcome=…
    int exit_code;         // sysexits
    log_level level;       // where the session's syslog line goes
    std::string_view message;
    // When not empty, the message goes on with "<meta origin><page>\n".
    std::string_view meta_page;
};

const failure_traits& traits(failure kind);

inline std::string_view failure_name(failure kind) {
    return traits(kind).name;
}

inline int exit_code(failure kind) {
    return traits(kind).exit_code;
}

// What the user sees on stderr: the message of docs/design.md followed by the support line
// "Please reach out to <owner-name> <<owner-email>> for support.", newline-terminated.
std::string user_message(failure kind, const config& cfg);

// Thrown where failing ends the session; `detail` is for the operator's log only.
class failure_error : public std::runtime_error {
public:
    failure_error(failure kind, std::string detail)
        : std::runtime_error(std::move(detail))
        , kind_(kind) {}
    failure kind() const noexcept { return kind_; }

private:
    failure kind_;
};

} // namespace jobssh
