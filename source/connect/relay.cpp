#include <algorithm>
#include <array>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/system_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <functional>
#include <jobssh/common/default_token.hpp>
#include <jobssh/common/posix.hpp>
#include <jobssh/connect/pty.hpp>
#include <jobssh/connect/relay.hpp>
#include <jobssh/connect/terminal.hpp>
#include <optional>
#include <string_view>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

namespace jobssh {

namespace asio = boost::asio;
using asio::awaitable;
using asio::posix::stream_descriptor;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr std::size_t stderr_kept = 16 * 1024;

// Which end of a transfer gave up.
enum class gave_up { reading, writing };

// Copies `from` to `to` until one of them fails, and returns rather than throws: under
// `||` the first to *return* wins. EOF or EIO on the user's terminal is how a hang-up reads.
awaitable<gave_up> transfer(stream_descriptor& from, stream_descriptor& to,
                            std::string* keep = nullptr,
                            std::function<void(std::string_view)> seen = {},
                            std::function<void()> on_first_read = nullptr) {
    std::array<char, 16 * 1024> buffer;
    // Reads that would wait fail at once: what is already there is gathered before writing.
    boost::system::error_code ignored;
    from.non_blocking(true, ignored);
    for (;;) {
        auto [read_error, n] = co_await from.async_read_some(asio::buffer(buffer), default_token());
        if (read_error)
            co_return gave_up::reading;
        // A pty hands over at most 4 KiB per read: gather what else is waiting, so the other
        // side gets one write (and one wake-up) instead of several. A keystroke costs one
        // read more, which finds nothing.
        while (n < buffer.size()) {
            boost::system::error_code more_error;
            auto more =
                from.read_some(asio::buffer(buffer.data() + n, buffer.size() - n), more_error);
            if (more_error || more == 0)
                break; // would block, or an end that the next read reports again
            n += more;
        }
        if (on_first_read)
            std::exchange(on_first_read, nullptr)();
        if (keep && keep->size() < stderr_kept)
            keep->append(buffer.data(), std::min(n, stderr_kept - keep->size()));
        auto [write_error, written] =
            co_await asio::async_write(to, asio::buffer(buffer.data(), n), default_token());
        // Shown to the observer once the user has it: a recording costs no latency.
        if (seen)
            seen(std::string_view(buffer.data(), n));
        if (write_error)
            co_return gave_up::writing;
    }
}

// On a pty session the child's stderr is held back in `result.held_stderr` until its
// session began (`started`, see watch_terminal), so that what ssh says when it never got
// one (a refused host key) is for the caller to pass on or to replace with a clearer
// message. From then on it is passed on as it comes.
awaitable<gave_up> pass_stderr(stream_descriptor& from, stream_descriptor& to,
                               session_result& result, const bool& started) {
    std::array<char, 4096> buffer;
    for (;;) {
        auto [read_error, n] = co_await from.async_read_some(asio::buffer(buffer), default_token());
        if (read_error)
            co_return gave_up::reading;
        std::string_view chunk(buffer.data(), n);
        if (result.child_stderr.size() < stderr_kept)
            result.child_stderr.append(chunk.substr(0, stderr_kept - result.child_stderr.size()));
        if (!started) {
            result.held_stderr.append(chunk);
            continue;
        }
        auto [write_error, written] =
            co_await asio::async_write(to, asio::buffer(chunk), default_token());
        if (write_error)
            co_return gave_up::writing;
    }
}

// Reads the pty in packet mode (TIOCPKT): each read is either a status byte or
// TIOCPKT_DATA followed by what the terminal shows (its echo while the child has not made
// it raw), which goes to `to`. The status byte that counts is TIOCPKT_NOSTOP: the child
// switched ^S/^Q flow control off, which ssh does when it makes its terminal raw, once
// its session began (after host key and authentication). Whatever the child shows on the
// pty also counts as a beginning: then the held-back stderr goes out, and `started` lets
// pass_stderr pass on the rest at once.
awaitable<gave_up> watch_terminal(stream_descriptor& master, stream_descriptor& to, bool& started,
                                  session_result& result, stream_descriptor& err,
                                  screen_observer* observer,
                                  const std::function<void()>& on_started) {
    std::array<char, 4096> buffer;
    for (;;) {
        auto [read_error, n] =
            co_await master.async_read_some(asio::buffer(buffer), default_token());
        if (read_error || n == 0)
            co_return gave_up::reading; // EIO: the child side is closed
        bool shows = buffer[0] == TIOCPKT_DATA && n > 1;
        if ((buffer[0] & TIOCPKT_NOSTOP) != 0)
            result.made_raw = true;
        if (!started && (shows || (buffer[0] & TIOCPKT_NOSTOP) != 0)) {
            started = true;
            if (on_started)
                on_started();
            std::string held = std::exchange(result.held_stderr, {});
            if (!held.empty())
                co_await asio::async_write(err, asio::buffer(held), default_token());
        }
        if (!shows)
            continue;
        if (observer)
            observer->output(std::string_view(buffer.data() + 1, n - 1));
        auto [write_error, written] =
            co_await asio::async_write(to, asio::buffer(buffer.data() + 1, n - 1), default_token());
        if (write_error)
            co_return gave_up::writing;
    }
}

// Waits until cancelled (the other side of a `||` won).
awaitable<void> idle() {
    asio::steady_timer never(co_await asio::this_coro::executor,
                             asio::steady_timer::time_point::max());
    co_await never.async_wait(default_token());
}

std::string in_words(std::chrono::seconds before) {
    auto minutes = std::chrono::duration_cast<std::chrono::minutes>(before).count();
    if (minutes == 1)
        return "in a minute";
    if (minutes > 1)
        return "in " + std::to_string(minutes) + " minutes";
    if (before.count() == 1)
        return "in a second";
    return "in " + std::to_string(before.count()) + " seconds";
}

// One line each, between line breaks, so that a full-screen program is disturbed as little
// as a line of output can.
awaitable<void> say(stream_descriptor& to, const std::string& line, bool raw_terminal) {
    std::string text = raw_terminal ? "\r\n" + line + "\r\n" : line + "\n";
    co_await asio::async_write(to, asio::buffer(text), default_token());
}

awaitable<session_end> deadline_watch(const session_options& options, stream_descriptor& to,
                                      bool raw_terminal) {
    if (!options.deadline) {
        co_await idle();
        co_return session_end::deadline;
    }
    auto warnings = options.warn_before;
    std::sort(warnings.begin(), warnings.end(), std::greater<>());
    asio::system_timer timer(co_await asio::this_coro::executor);
    for (auto before : warnings) {
        auto when = *options.deadline - before;
        if (when <= std::chrono::system_clock::now())
            continue; // already closer than that: the banner said when
        timer.expires_at(when);
        if (auto [cancelled] = co_await timer.async_wait(default_token()); cancelled)
            co_return session_end::deadline; // the session ended otherwise: not used
        co_await say(to, "[jobssh] Your VM will be terminated " + in_words(before) + ".",
                     raw_terminal);
    }
    timer.expires_at(*options.deadline);
    if (auto [cancelled] = co_await timer.async_wait(default_token()); cancelled)
        co_return session_end::deadline;
    co_await say(to, "[jobssh] Your VM's time is up: the job reached its deadline.", raw_terminal);
    co_return session_end::deadline;
}

awaitable<session_end> forever_then(session_end unused) {
    co_await idle();
    co_return unused;
}

// The child gets SIGHUP (as from a closing terminal), then SIGKILL when it lingers.
awaitable<int> stop(child& process, std::chrono::milliseconds grace) {
    process.signal_group(SIGHUP);
    process.signal_group(SIGCONT);
    asio::steady_timer timer(co_await asio::this_coro::executor, grace);
    auto first = co_await (process.wait() || timer.async_wait(default_token()));
    if (first.index() == 0) {
        process.signal_group(SIGKILL); // whatever it started and left behind
        co_return std::get<0>(first);
    }
    process.signal_group(SIGKILL);
    co_return co_await process.wait();
}

// The normal end waits for the child, whose output was drained already; any other end
// stops it first.
awaitable<int> finish(child& process, session_end end, std::chrono::milliseconds grace) {
    if (end == session_end::child_exited)
        co_return co_await process.wait();
    co_return co_await stop(process, grace);
}

session_end which(const auto& variant) {
    return std::visit([](session_end e) { return e; }, variant);
}

struct pipe_ends {
    int read = -1;
    int write = -1;
};

pipe_ends make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        throw_errno("pipe2");
    return {fds[0], fds[1]};
}

// The child's ends of its pipes are closed in the parent once it started (or failed to).
child start_then_close(const asio::any_io_executor& executor, const std::filesystem::path& program,
                       const std::vector<std::string>& args, child_stdio stdio,
                       std::initializer_list<int> child_ends) {
    std::vector<unique_fd> close_after;
    for (int fd : child_ends)
        close_after.emplace_back(fd);
    return start_child(executor, program, args, stdio);
}

int duplicate(int fd) {
    int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (copy < 0)
        throw_errno("dup");
    return copy;
}

// The child's own open file description of the user's terminal (or pipe), so that the
// O_NONBLOCK that Asio sets on ours does not reach it: programs other than ssh fail on
// EAGAIN. A terminal or a pipe can be opened again through /proc; anything else (a
// regular file never blocks; a socket cannot be opened) is shared as it is.
int description_for_child(int fd) {
    struct stat st {};
    bool reopenable = ::fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || ::isatty(fd));
    if (reopenable) {
        std::string path = "/proc/self/fd/" + std::to_string(fd);
        int own = ::open(path.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
        if (own >= 0)
            return own;
    }
    return duplicate(fd);
}

// A writer can learn that its reader went away (EPOLLERR) only on a pipe or a socket.
bool can_watch_reader(int fd) {
    struct stat st {};
    return ::fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
}

awaitable<session_end> reader_gone(stream_descriptor& out) {
    if (!can_watch_reader(out.native_handle())) {
        co_await idle();
        co_return session_end::hangup;
    }
    co_await out.async_wait(stream_descriptor::wait_error, default_token());
    co_return session_end::hangup;
}

// SIGHUP and SIGTERM, caught from the session's start when it catches them itself (see
// session_options::catch_signals), so that none finds the default action (death).
struct caught_signals {
    std::optional<asio::signal_set> set;

    caught_signals(const asio::any_io_executor& executor, const session_options& options) {
        if (options.catch_signals)
            set.emplace(executor, SIGHUP, SIGTERM);
    }
};

// Either of them ends the session as a hang-up; never, when the caller catches them.
awaitable<session_end> caught_signal(caught_signals& signals) {
    if (!signals.set)
        co_return co_await forever_then(session_end::hangup);
    co_await signals.set->async_wait(default_token());
    co_return session_end::hangup;
}

// How the session's race ended; a cancelled session (the caller's race was won elsewhere)
// is a hang-up, and what it still has to do (stop the child, wait for it) is done under a
// fresh cancellation state, since Asio would fail every later wait of a cancelled coroutine.
template <typename Race>
awaitable<session_end> ended(Race race) {
    std::optional<session_end> end;
    try {
        end = which(co_await std::move(race));
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

} // namespace

awaitable<session_result> relay_on_pty(std::filesystem::path program, std::vector<std::string> args,
                                       user_side user, session_options options) {
    auto executor = co_await asio::this_coro::executor;
    caught_signals signals(executor, options);
    terminal_guard guard({user.in, user.out, user.err});
    // Raw before the child starts: its output goes to the user's terminal as it wrote it.
    guard.make_raw(user.in);
    bool raw = is_terminal(user.in);

    asio::signal_set winch(executor, SIGWINCH); // before the size is read: no resize lost
    pty terminal(executor);
    if (auto size = window_size_of(user.in))
        terminal.resize(*size);
    screen_observer* observer = options.observer;
    int packet_mode = 1;
    if (::ioctl(terminal.master().native_handle(), TIOCPKT, &packet_mode) != 0)
        throw_errno("TIOCPKT");
    // The pty is the child's terminal: its stdin, its controlling tty, the window size, the
    // keys. What the child writes to stdout goes straight to the user's terminal: the
    // screen's bytes take the path they would take without jobssh, with no second pty and
    // no copy of ours. ssh, the child here, makes its tty raw, so no output processing is
    // lost. Its stderr comes through us (held until its session began).
    // With an observer, the screen is a pipe that we pass on to the user and show to the
    // observer (one hop: the bytes are copied once).
    auto err_pipe = make_pipe();
    stream_descriptor child_err(executor, err_pipe.read);
    std::optional<stream_descriptor> screen_in;
    int screen = -1;
    if (observer) {
        auto screen_pipe = make_pipe();
        screen_in.emplace(executor, screen_pipe.read);
        screen = screen_pipe.write;
        observer->begin(terminal.size());
    } else {
        screen = description_for_child(user.out);
    }
    child process =
        start_then_close(executor, program, args, {terminal.slave(), screen, err_pipe.write, true},
                         {screen, err_pipe.write});
    terminal.close_slave();

    stream_descriptor in(executor, duplicate(user.in));
    stream_descriptor out(executor, duplicate(user.out));
    stream_descriptor err(executor, duplicate(user.err));

    session_result result;
    bool started = false; // the child's session began: its stderr goes out as it comes
    auto passed_screen = [&]() -> awaitable<gave_up> {
        if (!screen_in)
            co_return gave_up::reading;
        co_return co_await transfer(*screen_in, out, nullptr, [observer](std::string_view bytes) {
            observer->output(bytes);
        });
    };
    auto output = [&]() -> awaitable<session_end> {
        auto [diagnostics, on_terminal, on_screen] =
            co_await (pass_stderr(child_err, err, result, started) &&
                      watch_terminal(terminal.master(), out, started, result, err, observer,
                                     options.on_started) &&
                      passed_screen());
        bool user_gone = on_terminal == gave_up::writing || on_screen == gave_up::writing;
        co_return user_gone ? session_end::hangup : session_end::child_exited;
    };
    std::function<void(std::string_view)> typed;
    std::function<void(window_size)> resized;
    if (observer) {
        typed = [observer](std::string_view keys) { observer->input(keys); };
        resized = [observer](window_size size) { observer->resize(size); };
    }
    auto input = [&]() -> awaitable<session_end> {
        co_await transfer(in, terminal.master(), nullptr, typed);
        co_return session_end::hangup; // a terminal does not end: EOF or EIO is a hang-up
    };
    auto window = [&]() -> awaitable<session_end> {
        co_await follow_window_size(winch, user.in, terminal, resized);
        co_return co_await forever_then(session_end::hangup);
    };
    // ssh riding a master hands it the pty and the stderr pipe with its session: killed
    // before that session was its own (a ^C or ^\ on the pty before ssh made it raw), it
    // leaves the session in the master, which holds both open as long as the VM's side
    // lives. Once ssh has exited, what is still coming gets `stop_grace` to drain.
    auto child_gone = [&]() -> awaitable<session_end> {
        co_await process.wait();
        asio::steady_timer drain(executor, options.stop_grace);
        co_await drain.async_wait(default_token());
        co_return session_end::child_exited;
    };
    result.end = co_await ended(output() || input() || caught_signal(signals) ||
                                deadline_watch(options, out, raw) || window() || child_gone());
    result.exit_status = co_await finish(process, result.end, options.stop_grace);
    co_return result;
}

awaitable<session_result> relay_with_pipes(std::filesystem::path program,
                                           std::vector<std::string> args, user_side user,
                                           session_options options) {
    auto executor = co_await asio::this_coro::executor;
    caught_signals signals(executor, options);
    terminal_guard guard({user.in, user.out, user.err});

    auto in_pipe = make_pipe();
    auto out_pipe = make_pipe();
    auto err_pipe = make_pipe();
    stream_descriptor child_in(executor, in_pipe.write);
    stream_descriptor child_out(executor, out_pipe.read);
    stream_descriptor child_err(executor, err_pipe.read);
    child process = start_then_close(executor, program, args,
                                     {in_pipe.read, out_pipe.write, err_pipe.write, false},
                                     {in_pipe.read, out_pipe.write, err_pipe.write});

    stream_descriptor in(executor, duplicate(user.in));
    stream_descriptor out(executor, duplicate(user.out));
    stream_descriptor err(executor, duplicate(user.err));

    session_result result;
    auto output = [&]() -> awaitable<session_end> {
        auto [stdout_end, stderr_end] =
            co_await (transfer(child_out, out, nullptr, {}, options.on_started) &&
                      transfer(child_err, err, &result.child_stderr));
        bool user_gone = stdout_end == gave_up::writing || stderr_end == gave_up::writing;
        co_return user_gone ? session_end::hangup : session_end::child_exited;
    };
    auto input = [&]() -> awaitable<session_end> {
        co_await transfer(in, child_in, nullptr, {}, [&result] { result.read_input = true; });
        child_in.close(); // EOF passed on
        co_return co_await forever_then(session_end::hangup);
    };
    result.end = co_await ended(output() || input() || reader_gone(out) || caught_signal(signals) ||
                                deadline_watch(options, err, false));
    result.exit_status = co_await finish(process, result.end, options.stop_grace);
    co_return result;
}

} // namespace jobssh
