#pragma once

// One read of what a descriptor has for the test (a pipe's or a pty master's), waited for
// with a bound.

#include <cstddef>
#include <poll.h>
#include <string>
#include <unistd.h>

namespace jobssh::testing {

enum class read_outcome {
    appended,    // bytes came and were added
    nothing_yet, // nothing within the bound
    ended,       // end of file, or EIO from a pty master whose slave is gone
};

// Waits up to `timeout_ms` for `fd` to be readable, then reads once and appends to `into`.
inline read_outcome read_ready(int fd, int timeout_ms, std::string& into) {
    pollfd ready{fd, POLLIN, 0};
    if (::poll(&ready, 1, timeout_ms) <= 0)
        return read_outcome::nothing_yet;
    char buffer[65536];
    auto n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0)
        return read_outcome::ended;
    into.append(buffer, static_cast<std::size_t>(n));
    return read_outcome::appended;
}

} // namespace jobssh::testing
