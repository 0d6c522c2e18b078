#pragma once

// Unsigned 32-bit integers in network byte order, as the SSH wire protocols write them
// (RFC 4251 `uint32`): OpenSSH's mux protocol (PROTOCOL.mux) and sftp's packets.

#include <cstdint>
#include <string>
#include <string_view>

namespace jobssh {

// Appends `value` to `out` as 4 bytes, most significant first.
inline void append_be32(std::string& out, std::uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(static_cast<char>((value >> shift) & 0xff));
}

// The 4 bytes of `bytes` from `at` as one value, most significant first. The caller checks
// that `at + 4 <= bytes.size()`.
inline std::uint32_t read_be32(std::string_view bytes, std::size_t at = 0) {
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < 4; ++i)
        value = (value << 8) | static_cast<unsigned char>(bytes[at + i]);
    return value;
}

} // namespace jobssh
