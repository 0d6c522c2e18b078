#pragma once

// The meta API of meta.sr.ht: whose key is this (docs/design.md, "The meta API").

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <jobssh/api/decoded.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace jobssh {

struct config;

struct key_owner {
    std::string canonical_name; // "~alice"
    std::string name;           // "alice"
};

struct ssh_key {
    std::int64_t id = 0;
    std::string authorized;
    std::string comment;
    std::string fingerprint;
    std::string key;
    key_owner owner;
};

// Decodes the body of a 200 answer to GET /api/ssh-key/{b64key}: the key, or what is wrong
// with the body (not JSON, a field missing or of the wrong type).
decoded<ssh_key> decode_ssh_key(std::string_view body);

// GET /api/ssh-key/{b64key}. nullopt on 404 (unknown key). Throws failure_error(temporary)
// on anything else: refused, timeout, 5xx, malformed answer.
boost::asio::awaitable<std::optional<ssh_key>> lookup_key(const config& cfg,
                                                          std::string_view b64key);

} // namespace jobssh
