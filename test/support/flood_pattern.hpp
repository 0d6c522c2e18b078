// What target's `flood` writes: byte i of its output is i mod 251, so a byte lost, doubled,
// reordered or translated (a pty's \n to \r\n) shows at its position, not just in a count.
#pragma once

#include <cstddef>
#include <sstream>
#include <string>

namespace jobssh::testing {

constexpr unsigned flood_period = 251; // prime: no power-of-two buffer size lines up with it

inline char flood_byte(std::size_t position) {
    return static_cast<char>(position % flood_period);
}

// "" when `seen` is exactly the first `count` bytes of a flood, else where it departs.
inline std::string flood_difference(const std::string& seen, std::size_t count) {
    for (std::size_t i = 0; i < seen.size() && i < count; ++i)
        if (seen[i] != flood_byte(i)) {
            std::ostringstream text;
            text << "byte " << i << " is " << int(static_cast<unsigned char>(seen[i]))
                 << ", the flood wrote " << int(static_cast<unsigned char>(flood_byte(i)));
            return text.str();
        }
    if (seen.size() != count)
        return std::to_string(seen.size()) + " bytes arrived of the " + std::to_string(count) +
               " written";
    return "";
}

} // namespace jobssh::testing
