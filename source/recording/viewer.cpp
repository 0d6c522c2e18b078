#include "viewer.hpp"

#include <array>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <fcntl.h>
#include <jobssh/common/default_token.hpp>
#include <jobssh/common/posix.hpp>
#include <jobssh/common/user_output.hpp>
#include <unistd.h>

namespace jobssh::viewer {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

viewer_terminal::viewer_terminal()
    : guard_({STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) {
    raw_ = is_terminal(STDIN_FILENO);
    guard_.make_raw(STDIN_FILENO);
}

void viewer_terminal::say(std::string_view line) const {
    std::string text = raw_ ? "\r\n" + std::string(line) + "\r\n" : std::string(line) + "\n";
    write_all(STDERR_FILENO, text);
}

namespace {

asio::awaitable<int> quit_key() {
    auto executor = co_await asio::this_coro::executor;
    if (!is_terminal(STDIN_FILENO)) {
        asio::steady_timer never(executor, asio::steady_timer::time_point::max());
        co_await never.async_wait(default_token());
        co_return 0;
    }
    int fd = ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
    asio::posix::stream_descriptor in(executor, fd);
    std::array<char, 256> keys;
    for (;;) {
        auto [ec, n] = co_await in.async_read_some(asio::buffer(keys), default_token());
        if (ec)
            co_return 128 + SIGHUP; // the terminal went away
        for (std::size_t i = 0; i < n; ++i)
            if (keys[i] == 'q' || keys[i] == 'Q' || keys[i] == 0x03 || keys[i] == 0x04)
                co_return 0;
    }
}

asio::awaitable<int> leaving_signal() {
    asio::signal_set signals(co_await asio::this_coro::executor, SIGHUP, SIGTERM, SIGINT);
    auto [ec, signal] = co_await signals.async_wait(default_token());
    co_return 128 + signal;
}

} // namespace

asio::awaitable<int> until_viewer_leaves() {
    auto left = co_await (quit_key() || leaving_signal());
    co_return std::visit([](int status) { return status; }, left);
}

asio::awaitable<int> show_until_viewer_leaves(asio::awaitable<int> shown,
                                              const viewer_terminal& terminal,
                                              std::string_view over, std::string_view stopped) {
    auto ended = co_await (std::move(shown) || until_viewer_leaves());
    int status = std::visit([](int s) { return s; }, ended);
    if (status == 0)
        terminal.say(ended.index() == 0 ? over : stopped);
    co_return status;
}

} // namespace jobssh::viewer
