#pragma once

// The viewer's side of `watch` and `replay`: their terminal made raw (so that what is
// shown is the session's bytes as they were), keys read and dropped, q or Ctrl-C to leave.

#include <boost/asio/awaitable.hpp>
#include <jobssh/connect/terminal.hpp>
#include <string_view>

namespace jobssh::viewer {

// Raw mode on stdin when it is a terminal, until it goes out of scope.
class viewer_terminal {
public:
    viewer_terminal();
    bool raw() const { return raw_; }
    // A line of ours between the session's bytes, on stderr.
    void say(std::string_view line) const;

private:
    terminal_guard guard_;
    bool raw_ = false;
};

// Returns 0 when the viewer pressed q or Ctrl-C (or Ctrl-D), 128+N on signal N (SIGHUP,
// SIGTERM, SIGINT). Keys are read only from a terminal.
boost::asio::awaitable<int> until_viewer_leaves();

// Shows the session (`shown`: its bytes as they come, or as they were) until it is over or the
// viewer leaves, then says which on `terminal`: `over`, or `stopped` when the viewer pressed
// q or Ctrl-C. Returns 0, or 128+N on signal N. watch and replay end alike through this.
boost::asio::awaitable<int> show_until_viewer_leaves(boost::asio::awaitable<int> shown,
                                                     const viewer_terminal& terminal,
                                                     std::string_view over,
                                                     std::string_view stopped);

} // namespace jobssh::viewer
