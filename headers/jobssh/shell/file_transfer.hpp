#pragma once

// scp, sftp and rsync reach jobssh-shell as any command does (sshd hands a forced command
// what the client asked for in SSH_ORIGINAL_COMMAND); none of them can reach a VM. Legacy
// scp and rsync show our stderr. sftp cannot: sshd drops a subsystem's stderr, and its
// client reads its protocol on stdout from the first byte. So the sftp client is told in
// its own protocol, which it shows ("realpath .: <message>"); scp, which speaks sftp since
// OpenSSH 9.0, shows only that the operation is unsupported.

#include <chrono>
#include <string_view>

namespace jobssh {

// The program sshd runs for the sftp subsystem: `internal-sftp` or a path to sftp-server.
bool sftp_program(std::string_view word);

// SSH_ORIGINAL_COMMAND is what sshd runs for an sftp subsystem request.
bool sftp_request(std::string_view original_command);

// Answers an sftp client on stdin/stdout: its version request with version 3, every other
// request with SSH_FX_OP_UNSUPPORTED and `message` made one line, until it hangs up, sends
// something that is not sftp, or `bound` has passed (a client that stops answering is not
// waited for longer than a slow one needs).
void refuse_sftp(std::string_view message, std::chrono::milliseconds bound);

} // namespace jobssh
