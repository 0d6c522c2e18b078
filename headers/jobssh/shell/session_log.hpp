#pragma once

// The one syslog line every jobssh-shell session ends with (docs/design.md): who, which job and
// command, how it ended, and how long it took.

#include <chrono>
#include <jobssh/common/failure.hpp>
#include <jobssh/common/job_id.hpp>
#include <optional>
#include <string>

namespace jobssh {

// What syslog gets about one session, filled in as the session learns it.
struct session_record {
    std::optional<job_id> job;
    std::string user;
    std::string fingerprint; // the user's key; through a gateway, as the gateway said
    std::string gateway_key; // on a runner, the key of the gateway that carried the session
    std::string command;
    std::string outcome;           // when the session did not fail
    std::optional<failure> failed; // outcome and log level then come from the table
    int exit_code = 0;
};

// `job= user= key= [gateway_key=] command= outcome= exit= duration_ms= [detail=]`, "-" for
// what is not known; `took` is written in milliseconds, `detail` (the failure's or the
// signal's account, for the operator) only when not empty. At the failure table's log level
// (failure.hpp) when the session failed, info otherwise.
void log_session(const session_record& record, std::chrono::steady_clock::duration took,
                 const std::string& detail);

} // namespace jobssh
