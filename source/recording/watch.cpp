#include "viewer.hpp"

#include <array>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <jobssh/common/config.hpp>
#include <jobssh/common/default_token.hpp>
#include <jobssh/common/failure.hpp>
#include <jobssh/common/posix.hpp>
#include <jobssh/common/user_output.hpp>
#include <jobssh/recording/asciicast.hpp>
#include <jobssh/recording/playback.hpp>
#include <jobssh/recording/session_files.hpp>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace jobssh {

namespace asio = boost::asio;

namespace {

// How much of a session's past output a watcher is shown first, at most.
constexpr std::size_t recent_kept = 64 * 1024;

// Reads a session's file as it grows, whole lines at a time.
class session_follower {
public:
    // A long session's file is read from near its end: only the recent past is shown.
    explicit session_follower(int fd)
        : fd_(fd) {
        struct stat st {};
        if (::fstat(fd_, &st) == 0 && st.st_size > static_cast<off_t>(4 * recent_kept) &&
            ::lseek(fd_, st.st_size - static_cast<off_t>(4 * recent_kept), SEEK_SET) >= 0) {
            header_seen_ = true;
            skip_partial_ = true;
        }
    }

    // Appends the output of the whole events that arrived since the last call; false when
    // the file cannot be read.
    bool read_output(std::string& output) {
        std::array<char, 64 * 1024> buffer;
        for (;;) {
            ssize_t n = ::read(fd_, buffer.data(), buffer.size());
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return false;
            if (n == 0)
                break;
            carry_.append(buffer.data(), static_cast<std::size_t>(n));
        }
        std::size_t start = 0;
        if (skip_partial_) {
            auto end = carry_.find('\n');
            if (end == std::string::npos)
                return true;
            start = end + 1; // the rest of a line begun before where reading started
            skip_partial_ = false;
        }
        for (std::size_t end; (end = carry_.find('\n', start)) != std::string::npos;
             start = end + 1) {
            std::string_view line(carry_.data() + start, end - start);
            if (!header_seen_) {
                header_seen_ = true;
                continue;
            }
            if (auto event = parse_event(line); event && event->code == 'o')
                output += event->data;
        }
        carry_.erase(0, start);
        return true;
    }

private:
    int fd_;
    std::string carry_;
    bool header_seen_ = false;
    bool skip_partial_ = false;
};

std::string which_sessions(job_id job, const std::vector<session_file>& sessions,
                           std::size_t chosen) {
    std::string text = "[jobssh] Job #" + std::to_string(job) + " has " +
                       std::to_string(sessions.size()) + " live sessions; this is number " +
                       std::to_string(chosen + 1) + ". `watch " + std::to_string(job) +
                       " <n>` watches another:";
    for (std::size_t i = 0; i < sessions.size(); ++i)
        text += (i == 0 ? " " : ", ") + std::to_string(i + 1) + " " + sessions[i].user + " since " +
                utc_minute(sessions[i].start);
    return text + ".";
}

// Shows what the session shows until it ends: its file's writer closed it (IN_CLOSE_WRITE,
// also when the kernel closed it for a killed session) or no longer holds its lock.
asio::awaitable<int> follow(int fd, session_follower& follower, user_output& out) {
    auto executor = co_await asio::this_coro::executor;
    unique_fd inotify(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    std::string proc_path = "/proc/self/fd/" + std::to_string(fd);
    if (!inotify ||
        ::inotify_add_watch(inotify.get(), proc_path.c_str(), IN_MODIFY | IN_CLOSE_WRITE) < 0)
        throw std::system_error(errno, std::generic_category(), "inotify");
    asio::posix::stream_descriptor changes(executor, inotify.get());
    std::array<char, 4096> notices;
    bool ended = !session_running(fd); // it may have ended before the watch was set
    try {
        for (;;) {
            std::string output;
            if (!follower.read_output(output))
                co_return 0;
            if (!output.empty())
                co_await out.write(output);
            if (ended)
                co_return 0;
            auto [ec, n] = co_await changes.async_read_some(asio::buffer(notices), default_token());
            if (ec)
                co_return 0;
            for (std::size_t at = 0; at < n;) {
                auto* notice = reinterpret_cast<const inotify_event*>(notices.data() + at);
                if (notice->mask & IN_CLOSE_WRITE)
                    ended = true;
                at += sizeof(inotify_event) + notice->len;
            }
            if (!ended && !session_running(fd))
                ended = true;
        }
    } catch (const user_hung_up&) {
        co_return 128 + SIGPIPE;
    }
}

} // namespace

std::string_view recent_screen(std::string_view output, bool cut) {
    std::size_t best = std::string_view::npos;
    for (std::string_view mark : {"\x1b"
                                  "c",
                                  "\x1b[2J", "\x1b[?1049h", "\x1b[?47h"}) {
        auto at = output.rfind(mark);
        if (at != std::string_view::npos && (best == std::string_view::npos || at > best))
            best = at;
    }
    if (best != std::string_view::npos) {
        // A clear is usually preceded by the cursor's move home.
        if (best >= 3 && output.substr(best - 3, 3) == "\x1b[H")
            best -= 3;
        return output.substr(best);
    }
    if (auto line = output.find('\n');
        cut && line != std::string_view::npos && line + 1 < output.size())
        return output.substr(line + 1);
    return output;
}

asio::awaitable<int> watch_session(const config& cfg, job_id job, std::optional<unsigned> session,
                                   user_output& out) {
    auto sessions = live_sessions(cfg, job);
    if (sessions.empty() || (session && *session > sessions.size()))
        throw failure_error(failure::nothing_to_watch,
                            "no live session " + (session ? std::to_string(*session) : "") +
                                " of the job");
    std::size_t chosen = session ? *session - 1 : sessions.size() - 1;
    unique_fd file(::open(sessions[chosen].path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!file)
        throw failure_error(failure::nothing_to_watch, "the session ended meanwhile");

    viewer::viewer_terminal terminal;
    if (sessions.size() > 1)
        terminal.say(which_sessions(job, sessions, chosen));
    terminal.say("[jobssh] Watching " + sessions[chosen].user + "'s session on job #" +
                 std::to_string(job) + ", read-only; q or Ctrl-C leaves.");

    // First the recent past, from a sensible place: the watcher is not dropped into the
    // middle of nothing.
    session_follower follower(file.get());
    std::string past;
    if (!follower.read_output(past))
        throw failure_error(failure::internal, "cannot read the session's file");
    bool cut = past.size() > recent_kept;
    if (cut)
        past.erase(0, past.size() - recent_kept);
    write_all(STDOUT_FILENO, recent_screen(past, cut));

    co_return co_await viewer::show_until_viewer_leaves(follow(file.get(), follower, out), terminal,
                                                        "[jobssh] The session ended.",
                                                        "[jobssh] Stopped watching.");
}

} // namespace jobssh
