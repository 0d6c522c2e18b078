#pragma once

// jobssh-shell: the forced command sshd runs for every login of the builds user.
// `jobssh-shell [--config FILE] [--owner NAME] B64KEY`, the command in $SSH_ORIGINAL_COMMAND.

#include <jobssh/common/job_id.hpp>
#include <string>

namespace jobssh {

// What `help` prints (and what follows "Usage:" in the usage failure's spirit).
std::string usage_text();

// The whole session: arguments, config, authorization, then tail or connect. Every
// failure is told to the user on stderr and mapped to its exit code; one line goes to
// syslog. Returns the exit status.
int run_shell(int argc, char** argv);

} // namespace jobssh
