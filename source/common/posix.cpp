#include <cerrno>
#include <csignal>
#include <jobssh/common/posix.hpp>
#include <poll.h>
#include <unistd.h>

namespace jobssh {

void unique_fd::reset(int fd) noexcept {
    if (fd_ >= 0)
        ::close(fd_);
    fd_ = fd;
}

void throw_errno(const std::string& what) {
    throw std::system_error(errno, std::generic_category(), what);
}

std::error_code write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd wait{fd, POLLOUT, 0};
            ::poll(&wait, 1, -1);
            continue;
        }
        if (n < 0)
            return {errno, std::generic_category()};
        if (n == 0)
            return std::make_error_code(std::errc::io_error);
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
}

void ignore_sigpipe() {
    std::signal(SIGPIPE, SIG_IGN);
}

} // namespace jobssh
