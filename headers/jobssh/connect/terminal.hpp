#pragma once

// Our own side of the session: the terminal sshd gave us (or the pipes, without one).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/signal_set.hpp>
#include <functional>
#include <jobssh/connect/pty.hpp>
#include <optional>
#include <termios.h>
#include <vector>

namespace jobssh {

bool is_terminal(int fd);

// The size of the terminal on `fd`; nullopt when it is not a terminal.
std::optional<window_size> window_size_of(int fd);

// Holds our terminal (and the file flags of the descriptors we relay, which Asio turns
// non-blocking) as they were, and puts them back when it goes out of scope: on every exit
// path short of SIGKILL.
class terminal_guard {
public:
    explicit terminal_guard(std::vector<int> fds);
    ~terminal_guard();
    terminal_guard(const terminal_guard&) = delete;
    terminal_guard& operator=(const terminal_guard&) = delete;

    // Raw mode on `fd` (a terminal): every key, Ctrl-C included, goes to the VM as a byte
    // instead of being a signal for us. Restored by the destructor.
    void make_raw(int fd);

private:
    struct saved_flags {
        int fd;
        int flags;
    };
    std::vector<saved_flags> flags_;
    std::optional<termios> termios_;
    int raw_fd_ = -1;
};

// Copies the size of the terminal on `from` to `to` on every SIGWINCH that `winch` (a
// signal_set made before the session started, so that no resize is missed) catches. Runs
// until cancelled. `resized` (when set) learns each new size.
boost::asio::awaitable<void> follow_window_size(boost::asio::signal_set& winch, int from, pty& to,
                                                std::function<void(window_size)> resized = {});

} // namespace jobssh
