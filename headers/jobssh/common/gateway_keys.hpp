#pragma once

// A runner's list of gateway keys ([jobssh::gateway] gateway-keys): the only keys whose
// holder may say which user it authenticated (docs/design.md, "Many runner hosts: the gateway").
// Read by jobssh-keys, which gives such a key the gateway's forced command, and by
// jobssh-shell, which checks it again before it believes the user named.

#include <filesystem>
#include <string_view>

namespace jobssh {

// The file holds "<type> <base64> [comment]" lines, as a .pub file or authorized_keys
// without options; blank lines and lines starting with '#' are skipped. True when one of
// them is `b64key`. Throws config_error when the file cannot be read.
bool listed_gateway_key(const std::filesystem::path& file, std::string_view b64key);

} // namespace jobssh
