#pragma once

// The POSIX calls every stage makes: one owner of a descriptor, one loop that writes
// everything, one way errno becomes an exception, SIGPIPE ignored by one helper.

#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace jobssh {

// Owns a descriptor and closes it once; -1 when it owns none.
class unique_fd {
public:
    unique_fd() = default;
    explicit unique_fd(int fd) noexcept
        : fd_(fd) {}
    unique_fd(unique_fd&& other) noexcept
        : fd_(std::exchange(other.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& other) noexcept {
        reset(std::exchange(other.fd_, -1));
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() { reset(); }

    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    // Hands the descriptor over to a new owner (an Asio descriptor, a child).
    int release() noexcept { return std::exchange(fd_, -1); }
    void reset(int fd = -1) noexcept;

private:
    int fd_ = -1;
};

// Throws std::system_error for the current errno, saying what failed ("open /x/y").
[[noreturn]] void throw_errno(const std::string& what);

// Writes all of `bytes`, retrying on EINTR and waiting (poll) while a non-blocking
// descriptor is full. The error when the descriptor takes no more (EPIPE: the reader left).
std::error_code write_all(int fd, std::string_view bytes);

// A write to a pipe or terminal whose reader is gone fails with EPIPE instead of killing us:
// the user who hung up is noticed where we write. Children get SIGPIPE back (pty.cpp).
void ignore_sigpipe();

} // namespace jobssh
