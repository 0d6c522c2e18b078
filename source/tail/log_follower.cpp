#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <jobssh/common/failure.hpp>
#include <jobssh/common/posix.hpp>
#include <jobssh/common/syslog.hpp>
#include <jobssh/tail/log_follower.hpp>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace jobssh {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

// Directory events that may mean a new task directory or a replaced log.
constexpr std::uint32_t directory_events = IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM;
// Files in a watched directory report their writes to the directory's watch.
constexpr std::uint32_t watch_mask = directory_events | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB;

// A continuation byte of a UTF-8 sequence (10xxxxxx).
bool continuation_byte(char c) {
    return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// How many leading bytes of `text` end on a character boundary (so a multi-byte character
// is never cut when a line too long to hold is passed on in pieces).
std::size_t utf8_boundary(std::string_view text) {
    std::size_t end = text.size();
    std::size_t back = 0;
    while (back < 4 && back < end && continuation_byte(text[end - 1 - back]))
        ++back;
    if (back == end)
        return end; // not UTF-8 at all: nothing to keep whole
    unsigned char lead = static_cast<unsigned char>(text[end - 1 - back]);
    std::size_t length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    return length > back + 1 ? end - 1 - back : end;
}

// A partial buffer keeps up to this much capacity between lines.
constexpr std::size_t partial_capacity_kept = 4 * 1024;

// Copies `text` to `to` with `prefix` before the first byte of each line. `line_start`
// says whether `text` begins a line, and is left saying whether the byte after it will.
// Lines of build logs are short: one pass copies 16 bytes at a time and finds the line
// ends on the way. Finding each line end first and then appending the prefix and the line
// took 1.6 times as long.
void copy_prefixed(std::string_view text, std::string_view prefix, bool& line_start,
                   byte_buffer& to) {
    const char* from = text.data();
    const char* const end = from + text.size();
    const std::size_t width = prefix.size();
    // The prefix, padded, for the stores of the loop below.
    constexpr std::size_t padded = 32;
    char pad[padded] = {};
    std::memcpy(pad, prefix.data(), std::min(width, padded));
    auto put_prefix = [&](char* at) {
        if (width <= padded)
            std::memcpy(at, pad, padded); // a constant size: two stores
        else
            std::memcpy(at, prefix.data(), width);
    };
    // Each store may reach this far past where the output stands.
    const std::size_t reach = 16 + std::max(width, padded);
    while (from != end) {
        // A tenth more than the text is typical; a quarter more is asked for, and the loop
        // stops to ask again when a run of short lines needs more.
        std::size_t left = static_cast<std::size_t>(end - from);
        char* const begin = to.room(left + left / 4 + reach + 16);
        char* const limit = begin + (to.capacity() - to.size());
        char* at = begin;
        if (line_start) {
            put_prefix(at);
            at += width;
            line_start = false;
        }
#if defined(__SSE2__)
        const __m128i newline = _mm_set1_epi8('\n');
        while (end - from >= 16 && static_cast<std::size_t>(limit - at) >= reach) {
            auto block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from));
            auto mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(block, newline)));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(at), block);
            if (mask == 0) {
                from += 16;
                at += 16;
                continue;
            }
            auto through = static_cast<std::size_t>(__builtin_ctz(mask)) + 1;
            from += through;
            at += through;
            if (from == end) {
                line_start = true;
                break;
            }
            put_prefix(at);
            at += width;
        }
#endif
        while (from != end && static_cast<std::size_t>(limit - at) >= reach) {
            char c = *from++;
            *at++ = c;
            if (c != '\n')
                continue;
            if (from == end) {
                line_start = true;
                break;
            }
            put_prefix(at);
            at += width;
        }
        to.commit(static_cast<std::size_t>(at - begin));
    }
}

struct followed_log {
    fs::path path;
    std::string name;   // "log" or "<task>/log", for notices
    std::string prefix; // "" or "[<task>] "
    unique_fd fd;
    dev_t device = 0;
    ino_t inode = 0;
    off_t offset = 0;
    std::string partial;       // bytes after the last newline read
    bool at_line_start = true; // false after part of an overlong line went out
    bool at_end = true;        // the last read found no more: look for a replaced file
};

} // namespace

struct log_follower::impl {
    asio::posix::stream_descriptor inotify;
    asio::steady_timer poll_timer; // instead of inotify, when none could be had
    fs::path job_dir;
    std::size_t chunk_size;
    std::size_t batch_size;
    // Every log is read into this one buffer (not zero-filled); only the bytes after a log's
    // last newline are kept, in its partial buffer.
    std::unique_ptr<char[]> read_buffer;
    std::chrono::milliseconds poll_interval;
    bool polling = false;
    bool job_dir_watched = false;
    int buildlogs_watch = -1; // while the job directory does not exist yet
    bool rescan_dirs = true;
    bool more = false;         // a log had more waiting than the batch took
    std::size_t next_turn = 0; // the log the next batch starts with
    bool stopped = false;
    bool drained = false;
    std::vector<followed_log> logs;
    std::vector<std::string> known_tasks;
    std::array<char, 16 * 1024> events{};

    impl(asio::any_io_executor executor, fs::path dir, const follow_options& options)
        : inotify(executor)
        , poll_timer(executor)
        , job_dir(std::move(dir))
        , chunk_size(std::max<std::size_t>(options.chunk_size, 1))
        , batch_size(std::max(options.batch_size, chunk_size))
        , read_buffer(new char[chunk_size])
        , poll_interval(std::max(options.poll_interval, std::chrono::milliseconds(10))) {
        logs.push_back(followed_log{job_dir / "log", "log", "", {}, 0, 0, 0, {}, true});
        int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
            // Each tail holds one inotify instance and the kernel allows a user only so many
            // (fs.inotify.max_user_instances): a busy moment is no reason to turn the user
            // away. Re-reading on a timer shows the same bytes, a little later.
            polling = true;
            log_error(std::string("warning: inotify_init1: ") + std::strerror(errno) +
                      "; following the logs by re-reading them every " +
                      std::to_string(poll_interval.count()) +
                      " ms (raise sysctl fs.inotify.max_user_instances)");
            return;
        }
        if (fd < 0)
            throw failure_error(failure::internal,
                                std::string("inotify_init1: ") + std::strerror(errno));
        inotify.assign(fd);
        // Until the job directory exists, its creation is what we wait for.
        if (watch(job_dir) >= 0)
            job_dir_watched = true;
        else
            buildlogs_watch = watch(job_dir.parent_path());
    }

    int watch(const fs::path& dir) {
        if (polling)
            return -1;
        return ::inotify_add_watch(inotify.native_handle(), dir.c_str(), watch_mask | IN_ONLYDIR);
    }

    // Birth time of a task's directory in nanoseconds; 0 where the file system has none.
    static std::int64_t started_at(const fs::path& dir) {
        struct statx info {};
        if (::statx(AT_FDCWD, dir.c_str(), 0, STATX_BTIME, &info) != 0 ||
            !(info.stx_mask & STATX_BTIME))
            return 0;
        return std::int64_t(info.stx_btime.tv_sec) * 1'000'000'000 + info.stx_btime.tv_nsec;
    }

    void discover_tasks() {
        if (polling) {
            std::error_code ec;
            if (!fs::is_directory(job_dir, ec))
                return;
        } else if (!job_dir_watched) {
            if (watch(job_dir) < 0)
                return;
            job_dir_watched = true;
            // Other jobs starting are no concern of ours any more.
            if (buildlogs_watch >= 0)
                ::inotify_rm_watch(inotify.native_handle(), buildlogs_watch);
            buildlogs_watch = -1;
        }
        std::vector<std::string> found;
        std::error_code ec;
        for (auto it = fs::directory_iterator(job_dir, ec); !ec && it != fs::directory_iterator();
             it.increment(ec)) {
            std::error_code type_ec;
            if (!it->is_directory(type_ec))
                continue;
            std::string task = it->path().filename().string();
            if (std::find(known_tasks.begin(), known_tasks.end(), task) == known_tasks.end())
                found.push_back(std::move(task));
        }
        // Tasks in the order they started (sr.ht's `tail */log` went by name): a finished
        // job's logs then read like the build ran.
        std::vector<std::pair<std::int64_t, std::string>> by_start;
        for (std::string& task : found)
            by_start.emplace_back(started_at(job_dir / task), std::move(task));
        std::sort(by_start.begin(), by_start.end());
        for (auto& [started, task] : by_start) {
            // Watch first, then look: a log created in between is still seen by the scan.
            watch(job_dir / task);
            logs.push_back(followed_log{
                job_dir / task / "log", task + "/log", "[" + task + "] ", {}, 0, 0, 0, {}, true});
            known_tasks.push_back(std::move(task));
        }
    }

    void emit_lines(followed_log& log, std::string_view bytes, byte_buffer& out) {
        if (bytes.empty())
            return;
        if (log.prefix.empty()) { // the job log: its bytes as they are
            out.append(bytes);
            log.at_line_start = bytes.back() == '\n';
            return;
        }
        copy_prefixed(bytes, log.prefix, log.at_line_start, out);
    }

    // Passes on the whole lines of the held-back bytes followed by `fresh` (and, for an
    // overlong line, a piece ending on a character boundary); holds back the rest.
    void take_lines(followed_log& log, std::string_view fresh, byte_buffer& out) {
        auto last_newline = fresh.rfind('\n');
        if (last_newline != std::string_view::npos) {
            // The held-back bytes begin the first of these lines.
            emit_lines(log, log.partial, out);
            emit_lines(log, fresh.substr(0, last_newline + 1), out);
            fresh.remove_prefix(last_newline + 1);
            clear_partial(log);
        }
        log.partial.append(fresh);
        if (log.partial.size() < chunk_size)
            return;
        // An overlong line (rare): it goes out in a piece that ends on a character boundary.
        std::size_t piece = utf8_boundary(log.partial);
        emit_lines(log, std::string_view(log.partial).substr(0, piece), out);
        std::string rest = log.partial.substr(piece); // the first bytes of one character
        clear_partial(log);
        log.partial = std::move(rest);
    }

    // A partial buffer that held a long line gives its memory back once the line went out:
    // a tail follows every log of a job for as long as the job runs.
    static void clear_partial(followed_log& log) {
        if (log.partial.capacity() > partial_capacity_kept)
            std::string().swap(log.partial);
        else
            log.partial.clear();
    }

    void flush_partial(followed_log& log, byte_buffer& out) {
        emit_lines(log, log.partial, out);
        // A line begun (held back, or its first pieces out already) still gets its end.
        if (!log.at_line_start)
            out += '\n';
        log.at_line_start = true;
        clear_partial(log);
    }

    // Reads up to chunk_size bytes from the log's open file. Returns false at its end.
    bool read_some(followed_log& log, byte_buffer& out) {
        // What is held back counts against the chunk, so no call passes on more than it.
        std::size_t held = log.partial.size();
        std::size_t room = chunk_size > held ? chunk_size - held : 1;
        ssize_t n;
        do
            n = ::pread(log.fd.get(), read_buffer.get(), room, log.offset);
        while (n < 0 && errno == EINTR);
        log.at_end = n < static_cast<ssize_t>(room);
        if (n <= 0)
            return false;
        log.offset += n;
        // The batch's buffer, once there is something for it: a wake-up that finds nothing
        // new allocates nothing.
        out.reserve(batch_size + chunk_size / 2);
        take_lines(log, std::string_view(read_buffer.get(), static_cast<std::size_t>(n)), out);
        return !log.at_end;
    }

    void open(followed_log& log) {
        log.fd = unique_fd(::open(log.path.c_str(), O_RDONLY | O_CLOEXEC));
        struct stat st {};
        if (log.fd && ::fstat(log.fd.get(), &st) == 0) {
            log.device = st.st_dev;
            log.inode = st.st_ino;
        }
        log.offset = 0;
    }

    void sync(followed_log& log, follow_output& out) {
        if (!log.fd) {
            open(log);
            if (!log.fd)
                return;
        }
        // While a log has more to read, it is read on: a file replaced or truncated meanwhile
        // shows when its end is reached (a truncated one reads short there), and what was
        // written to it before is shown first. Two stat calls per read would cost a quarter of
        // a big finished job's tail.
        if (!log.at_end) {
            if (read_some(log, out.lines))
                more = true;
            return;
        }
        struct stat now {};
        bool replaced = ::stat(log.path.c_str(), &now) == 0 &&
                        (now.st_dev != log.device || now.st_ino != log.inode);
        if (replaced) {
            // What was written to the old file before it went is still shown.
            while (read_some(log, out.lines)) {
            }
            flush_partial(log, out.lines);
            out.notices.push_back(log.name + " was replaced; reading it again from the start.");
            open(log);
            log.at_line_start = true;
        }
        struct stat st {};
        if (::fstat(log.fd.get(), &st) == 0 && st.st_size < log.offset) {
            flush_partial(log, out.lines);
            out.notices.push_back(log.name + " was truncated; reading it again from the start.");
            log.offset = 0;
            log.at_line_start = true;
        }
        if (read_some(log, out.lines))
            more = true;
    }

    follow_output read_available() {
        follow_output out;
        if (rescan_dirs) {
            rescan_dirs = false;
            discover_tasks();
        }
        more = false;
        // A line already passed on in part keeps its pieces together (whole lines only): until
        // it ends, only its log is read. Then the others get their turn, in the same call.
        followed_log* open = open_line();
        std::size_t first = open ? static_cast<std::size_t>(open - logs.data()) : next_turn;
        // A batch is read a chunk at a time while it has room for another (batch_size), so a
        // big finished job is passed on in batches that stay small in memory. A log with more
        // to read keeps its turn until it is read to its end: a finished job's logs read one
        // after the other, as the job ran.
        for (std::size_t i = 0; i < logs.size(); ++i) {
            std::size_t at = (first + i) % logs.size();
            followed_log& log = logs[at];
            do
                sync(log, out);
            while (!log.at_end && log.at_line_start && out.lines.size() + chunk_size <= batch_size);
            if (!log.at_line_start)
                break;
            if (!log.at_end) {
                next_turn = at;
                more = true;
                break;
            }
            // The next log's first chunk must fit as well: the batch stays within what was
            // reserved for it, and is never moved to a bigger buffer.
            if (out.lines.size() + chunk_size > batch_size && i + 1 < logs.size()) {
                next_turn = (at + 1) % logs.size();
                more = true;
                break;
            }
        }
        return out;
    }

    // The log whose current line went out in part, if any (there is never more than one).
    followed_log* open_line() {
        auto open = std::find_if(logs.begin(), logs.end(),
                                 [](const followed_log& log) { return !log.at_line_start; });
        return open == logs.end() ? nullptr : &*open;
    }

    // Looks at what inotify said: new directories need a scan, writes only a read.
    void note_events(std::size_t length) {
        std::size_t at = 0;
        while (at + sizeof(inotify_event) <= length) {
            const auto* event = reinterpret_cast<const inotify_event*>(events.data() + at);
            if (event->mask & (directory_events | IN_Q_OVERFLOW))
                rescan_dirs = true;
            at += sizeof(inotify_event) + event->len;
        }
    }
};

log_follower::log_follower(asio::any_io_executor executor, fs::path job_dir, std::size_t chunk_size)
    : log_follower(std::move(executor), std::move(job_dir),
                   follow_options{.chunk_size = chunk_size, .batch_size = chunk_size}) {}

log_follower::log_follower(asio::any_io_executor executor, fs::path job_dir, follow_options options)
    : impl_(std::make_unique<impl>(std::move(executor), std::move(job_dir), options)) {}

log_follower::~log_follower() = default;

follow_output log_follower::read_available() {
    return impl_->read_available();
}

void log_follower::stop() {
    impl_->stopped = true;
    impl_->rescan_dirs = true;
    if (impl_->polling)
        impl_->poll_timer.cancel();
    else
        impl_->inotify.cancel();
}

bool log_follower::polling() const {
    return impl_->polling;
}

bool log_follower::stopped() const {
    return impl_->stopped;
}

asio::awaitable<follow_output> log_follower::next() {
    impl& self = *impl_;
    for (;;) {
        follow_output out = self.read_available();
        if (!out.lines.empty() || !out.notices.empty())
            co_return out;
        if (self.more)
            continue;
        if (self.stopped) {
            // A line still open when the job ended gets its end; the logs held back behind it
            // are read on the next calls.
            if (followed_log* open = self.open_line()) {
                self.flush_partial(*open, out.lines);
                co_return out;
            }
            if (!self.drained) {
                self.drained = true;
                for (followed_log& log : self.logs)
                    self.flush_partial(log, out.lines);
            }
            co_return out;
        }
        if (self.polling) {
            // New task directories are found by looking again, as inotify would have said.
            self.rescan_dirs = true;
            self.poll_timer.expires_after(self.poll_interval);
            auto [ec] = co_await self.poll_timer.async_wait(asio::as_tuple(asio::use_awaitable));
            if (ec && !(ec == asio::error::operation_aborted && self.stopped))
                throw boost::system::system_error(ec, "waiting to re-read the logs");
            continue;
        }
        auto [ec, length] = co_await self.inotify.async_read_some(
            asio::buffer(self.events), asio::as_tuple(asio::use_awaitable));
        if (ec == asio::error::operation_aborted && self.stopped)
            continue;
        if (ec && ec != asio::error::would_block && ec != asio::error::try_again)
            throw boost::system::system_error(ec, "reading inotify events");
        self.note_events(length);
    }
}

} // namespace jobssh
