#pragma once

// The user's end of the session: stdout as sshd hands it to us (a pipe, a socket, a pty) or
// as a person redirects it (a regular file, /dev/null). Written as data arrives, one write
// at a time, so a slow reader slows the reading of logs instead of growing a buffer.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <exception>
#include <memory>
#include <string_view>

namespace jobssh {

// The reader went away (EPIPE, a closed socket) or the terminal hung up (EIO): the session
// ends quietly. `signal` is the one that end stands for: SIGHUP for a terminal (the user's
// ssh killed or disconnected closes it), SIGPIPE for a pipe or socket.
struct user_hung_up : std::exception {
    explicit user_hung_up(int by)
        : signal(by) {}
    const char* what() const noexcept override { return "the user hung up"; }
    int signal;
};

class user_output {
public:
    explicit user_output(boost::asio::any_io_executor executor, int fd = 1);
    ~user_output(); // leaves the descriptor open and blocking again
    user_output(const user_output&) = delete;
    user_output& operator=(const user_output&) = delete;

    // Returns when every byte is written. Throws user_hung_up.
    boost::asio::awaitable<void> write(std::string_view bytes);

    // Returns when the reader has gone away (a pipe or socket closed at the other end, a
    // terminal hung up), with the signal that stands for it (as user_hung_up::signal); never
    // returns for outputs that cannot tell (regular files, /dev/null).
    boost::asio::awaitable<int> wait_hangup();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace jobssh
