#pragma once

// What sshd hands jobssh as a key type (%t) and a key (%k), and what a runner may list
// as a VM's host key: the shapes checked before either goes into a line or a file.

#include <cstddef>
#include <string>
#include <string_view>

namespace jobssh {

// Longer keys are not keys sshd would hand us; the bound keeps lines and logs sane.
inline constexpr std::size_t longest_key = 16 * 1024;

// sshd's %t: `[a-z0-9@.-]+` ("ssh-ed25519", "sk-ssh-ed25519@openssh.com").
bool valid_key_type(std::string_view key_type);

// sshd's %k: padded base64 of at most longest_key characters.
bool valid_key(std::string_view b64key);

// OpenSSH's fingerprint of a valid key, "SHA256:<base64 of the digest, unpadded>", as
// `ssh-keygen -l` prints it and sshd logs it.
std::string key_fingerprint(std::string_view b64key);

} // namespace jobssh
