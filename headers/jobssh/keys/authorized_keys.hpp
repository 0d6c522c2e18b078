#pragma once

// The authorized_keys line jobssh-keys prints for the login user: sshd then runs
// jobssh-shell with the key the user authenticated with (docs/design.md, "Programs").

#include <filesystem>
#include <jobssh/common/ssh_key_format.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace jobssh {

// A path or key that cannot be put in an authorized_keys line (a newline or a NUL in it).
class authorized_keys_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// `restrict,pty,command="<shell> [--config FILE] [--owner NAME] '<b64key>'" <type> <b64key>
// somebody`, newline-terminated. The command survives both sshd's unquoting of command=""
// and the login shell that runs it, whatever characters the paths hold. Expects a valid
// type and key; throws authorized_keys_error for paths that cannot be written on one line
// and for an owner that is not a sr.ht user name (valid_user_name).
std::string authorized_keys_line(const std::filesystem::path& shell,
                                 const std::optional<std::filesystem::path>& config_file,
                                 std::string_view key_type, std::string_view b64key,
                                 std::optional<std::string_view> owner = std::nullopt);

// The line for a listed gateway key: `… command="<shell> [--config FILE] --gateway
// '<b64key>'" <type> <b64key> gateway`. jobssh-shell --gateway then takes the user the
// gateway names in its command (gateway/hop.hpp). Throws like authorized_keys_line.
std::string gateway_authorized_keys_line(const std::filesystem::path& shell,
                                         const std::optional<std::filesystem::path>& config_file,
                                         std::string_view key_type, std::string_view b64key);

} // namespace jobssh
