#pragma once

// A session with a child process (the VM's ssh): bytes relayed both ways by coroutines,
// until the child ends, the user hangs up, or the job's deadline comes.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <jobssh/connect/pty.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

namespace jobssh {

// Our side: the descriptors sshd gave us.
struct user_side {
    int in = STDIN_FILENO;
    int out = STDOUT_FILENO;
    int err = STDERR_FILENO;
};

// Sees a pty session's screen as it passes through jobssh (recording, watching). Called on
// the relay's own thread, between a read and the write to the user: keep it short, and
// never throw (a recording that fails ends the recording, not the session).
class screen_observer {
public:
    virtual ~screen_observer() = default;
    // Once, before the child starts, with the user's window size.
    virtual void begin(window_size size) = 0;
    virtual void output(std::string_view bytes) = 0;
    virtual void input(std::string_view keys) = 0;
    virtual void resize(window_size size) = 0;
    // A line for the banner ("This session is recorded.\n"), or nothing.
    virtual std::string banner_note() const { return {}; }
};

struct session_options {
    // When the VM goes away (Unix time). The user is warned `warn_before` it, and the
    // session ends cleanly when it comes.
    std::optional<std::chrono::system_clock::time_point> deadline;
    std::vector<std::chrono::seconds> warn_before{std::chrono::minutes(10),
                                                  std::chrono::minutes(1)};
    // After SIGHUP to the child's process group, how long it gets before SIGKILL.
    std::chrono::milliseconds stop_grace{3000};
    // SIGHUP/SIGTERM end the session. jobssh-shell turns this off: it races its whole
    // session, every phase at once, with the signals that end it, and cancels the relay.
    bool catch_signals = true;
    // On a pty: when set, the child's screen output passes through jobssh (a pipe we read)
    // and is shown to it; when null, the child writes to the user's terminal directly.
    screen_observer* observer = nullptr;
    // Called once, when the child's session began: on a pty, the child made its terminal raw
    // or showed something on it (ssh does the former once authenticated, its session
    // channel open); on pipes, the first byte of the child's stdout came.
    std::function<void()> on_started;
};

enum class session_end {
    child_exited, // the normal end: the child's output was drained, then it was waited for
    hangup,       // the user went away (SIGHUP, SIGTERM, EOF/EIO on our terminal), or the
                  // session was cancelled
    deadline,     // the job's deadline came
};

struct session_result {
    int exit_status = 0; // the child's, 128+N when killed by signal N
    session_end end = session_end::child_exited;
    std::string child_stderr; // the first 16 KiB of the child's stderr (ssh's diagnostics)
    // On a pty: what the child wrote to stderr before its session began (before it made its
    // terminal raw, as ssh does once in, or showed anything on it), held back for the
    // caller to show, or to replace with a clearer message.
    std::string held_stderr;
    // On a pty: the child switched flow control off, as ssh does when it makes its terminal
    // raw. Until then a ^C or ^\ typed is a signal to the child from its pty.
    bool made_raw = false;
    // With pipes: something was read from the user's stdin and handed to the child, so
    // running the child again would not see it (a caller retrying ssh must not).
    bool read_input = false;
};

// Both take their arguments by value: a coroutine outlives the caller's temporaries. Both
// end a cancelled session as a hang-up (the child stopped, its status waited for) rather
// than by leaving the child to the destructor's SIGKILL.

// Runs `program args…` on a pty we own (its stdin and controlling terminal), the user's
// terminal in raw mode meanwhile (when `user.in` is a terminal), the window size copied at
// start and on every SIGWINCH, the keys passed on. The child's stdout is the user's
// terminal itself (its own open file description of it): the screen's bytes take no hop
// through us. What the pty shows (echo before the child makes it raw) is passed on to
// `user.out`; the child's stderr is a pipe, passed on to `user.err` once the child's
// session began (see session_result::held_stderr).
boost::asio::awaitable<session_result> relay_on_pty(std::filesystem::path program,
                                                    std::vector<std::string> args, user_side user,
                                                    session_options options);

// Runs `program args…` with pipes: stdout and stderr kept apart, EOF on `user.in` passed on
// by closing the child's stdin.
boost::asio::awaitable<session_result> relay_with_pipes(std::filesystem::path program,
                                                        std::vector<std::string> args,
                                                        user_side user, session_options options);

} // namespace jobssh
