#pragma once

// The steps both relays of relay.hpp are made of (relay.cpp): bytes copied one way, the
// deadline's warnings, the signals and the race that end a session, the child stopped, and
// the pipes and descriptors it starts with. relay_pty.cpp and relay_pipes.cpp put them
// together; nothing else uses them.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/system/system_error.hpp>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <jobssh/connect/pty.hpp>
#include <jobssh/connect/relay.hpp>
#include <jobssh/connect/terminal.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace jobssh {

// How much of the child's stderr a session keeps (session_result::child_stderr).
inline constexpr std::size_t relay_stderr_kept = 16 * 1024;

// Which end of a transfer gave up.
enum class gave_up { reading, writing };

// Copies `from` to `to` until one of them fails, and returns rather than throws: under `||`
// the first to *return* wins (Asio's talking-async relay). EOF or EIO on the user's terminal
// is how a hang-up reads. What is already waiting after a read is gathered (up to 16 KiB), so
// the other side gets one write. `keep`: the first relay_stderr_kept bytes are appended there
// too; `seen`: each chunk, once written to `to`; `on_first_read`: once, at the first bytes.
boost::asio::awaitable<gave_up> transfer(boost::asio::posix::stream_descriptor& from,
                                         boost::asio::posix::stream_descriptor& to,
                                         std::string* keep = nullptr,
                                         std::function<void(std::string_view)> seen = {},
                                         std::function<void()> on_first_read = nullptr);

// Waits until cancelled (the other side of a `||` won).
boost::asio::awaitable<void> wait_until_cancelled();

// A branch of a session's race that never wins: waits until cancelled, then returns `unused`.
boost::asio::awaitable<session_end> forever_then(session_end unused);

// The job's deadline (options.deadline; without one, it waits until cancelled): the user is
// warned on `to` at each of options.warn_before that is still ahead ("[jobssh] Your VM will be
// terminated in 10 minutes."), and told when it comes; each line between line breaks ("\r\n"
// on a raw terminal), so that a full-screen program is disturbed as little as a line can.
// Returns session_end::deadline, also when cancelled (the value is not used then).
boost::asio::awaitable<session_end> deadline_watch(const session_options& options,
                                                   boost::asio::posix::stream_descriptor& to,
                                                   bool raw_terminal);

// The child's exit status (128+N for signal N) once the session ended as `end`: the normal
// end (child_exited) only waits for the child, whose output was drained already; any other
// end stops it first: SIGHUP (as from a closing terminal) and SIGCONT to its process group,
// SIGKILL once it exited (whatever it left behind) or after `grace`.
boost::asio::awaitable<int> finish_child(child& process, session_end end,
                                         std::chrono::milliseconds grace);

// SIGHUP and SIGTERM, caught from the session's start when it catches them itself (see
// session_options::catch_signals), so that none finds the default action (death).
struct caught_signals {
    std::optional<boost::asio::signal_set> set;

    caught_signals(const boost::asio::any_io_executor& executor, const session_options& options) {
        if (options.catch_signals)
            set.emplace(executor, SIGHUP, SIGTERM);
    }
};

// Either of them ends the session as a hang-up; never, when the caller catches them.
boost::asio::awaitable<session_end> caught_signal(caught_signals& signals);

// A branch of the race of a session whose output is `out`: a hang-up once the reader of `out`
// went away (EPOLLERR, which only a pipe or a socket can tell a writer); never on anything
// else (a terminal, a file).
boost::asio::awaitable<session_end> reader_gone(boost::asio::posix::stream_descriptor& out);

// What a relay holds from its start to its end: the signals it catches, and the user's
// descriptors (their file flags; a terminal's mode) put back as they were however it ends.
struct relay_scope {
    caught_signals signals;
    terminal_guard guard;

    relay_scope(const boost::asio::any_io_executor& executor, const session_options& options,
                const user_side& user)
        : signals(executor, options)
        , guard({user.in, user.out, user.err}) {}
};

// How the session's race (a `||` of branches that each return a session_end) ended; a
// cancelled session (the caller's race was won elsewhere) is a hang-up, and what it still has
// to do (stop the child, wait for it) is done under a fresh cancellation state, since Asio
// would fail every later wait of a cancelled coroutine. Throws what a branch threw, but for
// operation_aborted.
template <typename Race>
boost::asio::awaitable<session_end> race_end(Race race) {
    namespace asio = boost::asio;
    std::optional<session_end> end;
    try {
        auto winner = co_await std::move(race); // a variant of session_end
        end = std::visit([](session_end e) { return e; }, winner);
    } catch (const boost::system::system_error& error) {
        if (error.code() != asio::error::operation_aborted)
            throw;
    }
    auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none || !end) {
        co_await asio::this_coro::reset_cancellation_state();
        co_return session_end::hangup;
    }
    co_return *end;
}

struct pipe_ends {
    int read = -1;
    int write = -1;
};

// pipe2(O_CLOEXEC). Throws std::system_error.
pipe_ends make_pipe();

// start_child, then the child's ends of its pipes (`child_ends`) closed in the parent,
// whether it started or not. Throws std::system_error as start_child does.
child start_then_close(const boost::asio::any_io_executor& executor,
                       const std::filesystem::path& program, const std::vector<std::string>& args,
                       child_stdio stdio, std::initializer_list<int> child_ends);

// A copy of `fd` (F_DUPFD_CLOEXEC, at 3 or above) for Asio to own, and close. Throws
// std::system_error.
int duplicate_fd(int fd);

} // namespace jobssh
