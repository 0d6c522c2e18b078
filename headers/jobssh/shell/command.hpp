#pragma once

// SSH_ORIGINAL_COMMAND: the verb and the job ID split like POSIX shlex, then the command
// grammar of docs/design.md. A remote command after the job ID is not split at all.

#include <jobssh/common/job_id.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace jobssh {

struct help_command {};
struct tail_command {
    job_id job;
};
struct connect_command {
    job_id job;
    // The rest of SSH_ORIGINAL_COMMAND after the job ID (and `--`), byte for byte, for the
    // VM's shell to read as it would read a direct `ssh build@vm …`; empty: an interactive
    // bash.
    std::string remote_command;
};
// `watch <job> [<n>]`: n counts the job's live sessions from 1, oldest first; none: the newest.
struct watch_command {
    job_id job;
    std::optional<unsigned> session;
};
// `replay <job> [<n>] [--speed X]`: without n, the list of the job's recordings.
struct replay_command {
    job_id job;
    std::optional<unsigned> recording;
    double speed = 1.0;
};
using command =
    std::variant<help_command, tail_command, connect_command, watch_command, replay_command>;

// The job a command is about (none for help).
std::optional<job_id> job_of(const command& cmd);

// Splits like Python's shlex.split(s, posix=True): nullopt on an unbalanced quote or a
// trailing backslash.
std::optional<std::vector<std::string>> shlex_split(std::string_view text);

// Parses SSH_ORIGINAL_COMMAND (absent and empty alike). Throws jobssh::failure_error
// (failure::usage, failure::bad_job_id, or failure::file_transfer for what scp and sftp
// send) for input it cannot accept.
command parse_command(std::string_view original_command);

} // namespace jobssh
