#include <boost/asio/signal_set.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fcntl.h>
#include <jobssh/common/default_token.hpp>
#include <jobssh/connect/terminal.hpp>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace jobssh {

namespace asio = boost::asio;

bool is_terminal(int fd) {
    return ::isatty(fd) == 1;
}

std::optional<window_size> window_size_of(int fd) {
    winsize ws{};
    if (::ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0)
        return std::nullopt;
    return window_size{ws.ws_row, ws.ws_col};
}

terminal_guard::terminal_guard(std::vector<int> fds) {
    for (int fd : fds)
        if (int flags = ::fcntl(fd, F_GETFL); flags >= 0)
            flags_.push_back({fd, flags});
}

terminal_guard::~terminal_guard() {
    if (termios_)
        ::tcsetattr(raw_fd_, TCSADRAIN, &*termios_);
    for (auto [fd, flags] : flags_)
        ::fcntl(fd, F_SETFL, flags);
}

void terminal_guard::make_raw(int fd) {
    termios saved{};
    if (::tcgetattr(fd, &saved) != 0)
        return; // not a terminal: nothing to make raw, nothing to restore
    termios raw = saved;
    ::cfmakeraw(&raw);
    if (::tcsetattr(fd, TCSADRAIN, &raw) != 0)
        return;
    termios_ = saved;
    raw_fd_ = fd;
}

asio::awaitable<void> follow_window_size(asio::signal_set& winch, int from, pty& to,
                                         std::function<void(window_size)> resized) {
    for (;;) {
        auto [ec, signal] = co_await winch.async_wait(default_token());
        if (ec)
            co_return;
        if (auto size = window_size_of(from)) {
            to.resize(*size);
            if (resized)
                resized(*size);
        }
    }
}

} // namespace jobssh
