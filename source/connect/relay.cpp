#include <algorithm>
#include <array>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/system_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>
#include <csignal>
#include <fcntl.h>
#include <functional>
#include <jobssh/common/default_token.hpp>
#include <jobssh/common/posix.hpp>
#include <jobssh/connect/relay_steps.hpp>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <variant>
#include <vector>

namespace jobssh {

namespace asio = boost::asio;
using asio::awaitable;
using asio::posix::stream_descriptor;
using namespace asio::experimental::awaitable_operators;

namespace {

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
awaitable<void> say_between_lines(stream_descriptor& to, const std::string& line,
                                  bool raw_terminal) {
    std::string text = raw_terminal ? "\r\n" + line + "\r\n" : line + "\n";
    co_await asio::async_write(to, asio::buffer(text), default_token());
}

// The child gets SIGHUP (as from a closing terminal), then SIGKILL when it lingers.
awaitable<int> stop_child(child& process, std::chrono::milliseconds grace) {
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

// A writer can learn that its reader went away (EPOLLERR) only on a pipe or a socket.
bool can_watch_reader(int fd) {
    struct stat st {};
    return ::fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
}

} // namespace

awaitable<gave_up> transfer(stream_descriptor& from, stream_descriptor& to, std::string* keep,
                            std::function<void(std::string_view)> seen,
                            std::function<void()> on_first_read) {
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
        if (keep && keep->size() < relay_stderr_kept)
            keep->append(buffer.data(), std::min(n, relay_stderr_kept - keep->size()));
        auto [write_error, written] =
            co_await asio::async_write(to, asio::buffer(buffer.data(), n), default_token());
        // Shown to the observer once the user has it: a recording costs no latency.
        if (seen)
            seen(std::string_view(buffer.data(), n));
        if (write_error)
            co_return gave_up::writing;
    }
}

awaitable<void> wait_until_cancelled() {
    asio::steady_timer never(co_await asio::this_coro::executor,
                             asio::steady_timer::time_point::max());
    co_await never.async_wait(default_token());
}

awaitable<session_end> deadline_watch(const session_options& options, stream_descriptor& to,
                                      bool raw_terminal) {
    if (!options.deadline) {
        co_await wait_until_cancelled();
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
        co_await say_between_lines(
            to, "[jobssh] Your VM will be terminated " + in_words(before) + ".", raw_terminal);
    }
    timer.expires_at(*options.deadline);
    if (auto [cancelled] = co_await timer.async_wait(default_token()); cancelled)
        co_return session_end::deadline;
    co_await say_between_lines(to, "[jobssh] Your VM's time is up: the job reached its deadline.",
                               raw_terminal);
    co_return session_end::deadline;
}

awaitable<session_end> forever_then(session_end unused) {
    co_await wait_until_cancelled();
    co_return unused;
}

awaitable<int> finish_child(child& process, session_end end, std::chrono::milliseconds grace) {
    if (end == session_end::child_exited)
        co_return co_await process.wait();
    co_return co_await stop_child(process, grace);
}

pipe_ends make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        throw_errno("pipe2");
    return {fds[0], fds[1]};
}

child start_then_close(const asio::any_io_executor& executor, const std::filesystem::path& program,
                       const std::vector<std::string>& args, child_stdio stdio,
                       std::initializer_list<int> child_ends) {
    std::vector<unique_fd> close_after;
    for (int fd : child_ends)
        close_after.emplace_back(fd);
    return start_child(executor, program, args, stdio);
}

int duplicate_fd(int fd) {
    int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (copy < 0)
        throw_errno("dup");
    return copy;
}

awaitable<session_end> caught_signal(caught_signals& signals) {
    if (!signals.set)
        co_return co_await forever_then(session_end::hangup);
    co_await signals.set->async_wait(default_token());
    co_return session_end::hangup;
}

awaitable<session_end> reader_gone(stream_descriptor& out) {
    if (!can_watch_reader(out.native_handle())) {
        co_await wait_until_cancelled();
        co_return session_end::hangup;
    }
    co_await out.async_wait(stream_descriptor::wait_error, default_token());
    co_return session_end::hangup;
}

} // namespace jobssh
