#include <array>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>
#include <csignal>
#include <fcntl.h>
#include <functional>
#include <jobssh/common/default_token.hpp>
#include <jobssh/common/posix.hpp>
#include <jobssh/connect/pty.hpp>
#include <jobssh/connect/relay.hpp>
#include <jobssh/connect/relay_steps.hpp>
#include <jobssh/connect/terminal.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace jobssh {

namespace asio = boost::asio;
using asio::posix::stream_descriptor;
using namespace asio::experimental::awaitable_operators;

namespace {

// On a pty session the child's stderr is held back in `result.held_stderr` until its
// session began (`started`, see watch_terminal), so that what ssh says when it never got
// one (a refused host key) is for the caller to pass on or to replace with a clearer
// message. From then on it is passed on as it comes.
asio::awaitable<gave_up> pass_stderr(stream_descriptor& from, stream_descriptor& to,
                                     session_result& result, const bool& started) {
    std::array<char, 4096> buffer;
    for (;;) {
        auto [read_error, n] = co_await from.async_read_some(asio::buffer(buffer), default_token());
        if (read_error)
            co_return gave_up::reading;
        std::string_view chunk(buffer.data(), n);
        if (result.child_stderr.size() < relay_stderr_kept)
            result.child_stderr.append(
                chunk.substr(0, relay_stderr_kept - result.child_stderr.size()));
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
asio::awaitable<gave_up> watch_terminal(stream_descriptor& master, stream_descriptor& to,
                                        bool& started, session_result& result,
                                        stream_descriptor& err, screen_observer* observer,
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
    return duplicate_fd(fd);
}

} // namespace

asio::awaitable<session_result> relay_on_pty(std::filesystem::path program,
                                             std::vector<std::string> args, user_side user,
                                             session_options options) {
    auto executor = co_await asio::this_coro::executor;
    relay_scope scope(executor, options, user);
    // Raw before the child starts: its output goes to the user's terminal as it wrote it.
    scope.guard.make_raw(user.in);
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

    stream_descriptor in(executor, duplicate_fd(user.in));
    stream_descriptor out(executor, duplicate_fd(user.out));
    stream_descriptor err(executor, duplicate_fd(user.err));

    session_result result;
    bool started = false; // the child's session began: its stderr goes out as it comes
    auto passed_screen = [&]() -> asio::awaitable<gave_up> {
        if (!screen_in)
            co_return gave_up::reading;
        co_return co_await transfer(*screen_in, out, nullptr, [observer](std::string_view bytes) {
            observer->output(bytes);
        });
    };
    auto output = [&]() -> asio::awaitable<session_end> {
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
    auto input = [&]() -> asio::awaitable<session_end> {
        co_await transfer(in, terminal.master(), nullptr, typed);
        co_return session_end::hangup; // a terminal does not end: EOF or EIO is a hang-up
    };
    auto window = [&]() -> asio::awaitable<session_end> {
        co_await follow_window_size(winch, user.in, terminal, resized);
        co_return co_await forever_then(session_end::hangup);
    };
    // ssh riding a master hands it the pty and the stderr pipe with its session: killed
    // before that session was its own (a ^C or ^\ on the pty before ssh made it raw), it
    // leaves the session in the master, which holds both open as long as the VM's side
    // lives. Once ssh has exited, what is still coming gets `stop_grace` to drain.
    auto child_gone = [&]() -> asio::awaitable<session_end> {
        co_await process.wait();
        asio::steady_timer drain(executor, options.stop_grace);
        co_await drain.async_wait(default_token());
        co_return session_end::child_exited;
    };
    result.end = co_await race_end(output() || input() || caught_signal(scope.signals) ||
                                   deadline_watch(options, out, raw) || window() || child_gone());
    result.exit_status = co_await finish_child(process, result.end, options.stop_grace);
    co_return result;
}

} // namespace jobssh
