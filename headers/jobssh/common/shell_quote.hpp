#pragma once

#include <string>
#include <string_view>

namespace jobssh {

// One word for a POSIX shell, quoted only when it needs to be (like Python's shlex.quote).
// Used for the forced command sshd runs and for the remote command the VM's shell reads.
std::string shell_quote(std::string_view word);

} // namespace jobssh
