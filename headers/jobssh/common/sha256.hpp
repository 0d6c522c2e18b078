#pragma once

// SHA-256 (FIPS 180-4), for key fingerprints: the one digest jobssh computes, too little
// to link a crypto library into jobssh-shell for.

#include <array>
#include <cstdint>
#include <string_view>

namespace jobssh {

std::array<std::uint8_t, 32> sha256(std::string_view data);

} // namespace jobssh
