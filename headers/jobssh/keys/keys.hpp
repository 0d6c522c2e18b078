#pragma once

// jobssh-keys, sshd's AuthorizedKeysCommand (`%u %h %t %k`). It starts for every key a
// client offers: with `authenticate = keys` it makes one bounded call to meta, and nothing
// else; other users and malformed keys make none.

#include <filesystem>
#include <iosfwd>
#include <span>
#include <string_view>

namespace jobssh {

// Runs jobssh-keys on its arguments (argv without the program name): writes the
// authorized_keys line (or another user's own file) to `out`, problems to `err` and the
// syslog, and returns the exit status. `program_dir` is where the default jobssh-shell is.
int run_keys(std::span<const std::string_view> args, std::ostream& out, std::ostream& err,
             const std::filesystem::path& program_dir);

} // namespace jobssh
