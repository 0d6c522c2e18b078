#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/system/system_error.hpp>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <jobssh/common/default_token.hpp>
#include <jobssh/common/failure.hpp>
#include <jobssh/common/syslog.hpp>
#include <jobssh/tail/task_discovery.hpp>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <utility>

namespace jobssh {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

// Directory events that may mean a new task directory, a new log or a replaced one.
constexpr std::uint32_t directory_events = IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM;
// Files in a watched directory report their writes to the directory's watch.
constexpr std::uint32_t watch_mask = directory_events | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB;

// Birth time of a task's directory in nanoseconds; 0 where the file system has none.
std::int64_t started_at(const fs::path& dir) {
    struct statx info {};
    if (::statx(AT_FDCWD, dir.c_str(), 0, STATX_BTIME, &info) != 0 ||
        !(info.stx_mask & STATX_BTIME))
        return 0;
    return std::int64_t(info.stx_btime.tv_sec) * 1'000'000'000 + info.stx_btime.tv_nsec;
}

} // namespace

task_discovery::task_discovery(asio::any_io_executor executor, fs::path job_dir,
                               std::chrono::milliseconds poll_interval)
    : inotify_(executor)
    , poll_timer_(executor)
    , job_dir_(std::move(job_dir))
    , poll_interval_(std::max(poll_interval, std::chrono::milliseconds(10))) {
    int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
        // Each tail holds one inotify instance and the kernel allows a user only so many
        // (fs.inotify.max_user_instances): a busy moment is no reason to turn the user
        // away. Re-reading on a timer shows the same bytes, a little later.
        polling_ = true;
        log_error(std::string("warning: inotify_init1: ") + std::strerror(errno) +
                  "; following the logs by re-reading them every " +
                  std::to_string(poll_interval_.count()) +
                  " ms (raise sysctl fs.inotify.max_user_instances)");
        return;
    }
    if (fd < 0)
        throw failure_error(failure::internal,
                            std::string("inotify_init1: ") + std::strerror(errno));
    inotify_.assign(fd);
    // Until the job directory exists, its creation is what we wait for.
    job_dir_watch_ = watch(job_dir_);
    if (job_dir_watch_ < 0)
        buildlogs_watch_ = watch(job_dir_.parent_path());
}

int task_discovery::watch(const fs::path& dir) {
    if (polling_)
        return -1;
    return ::inotify_add_watch(inotify_.native_handle(), dir.c_str(), watch_mask | IN_ONLYDIR);
}

std::vector<std::string> task_discovery::new_tasks() {
    if (!std::exchange(rescan_, false))
        return {};
    if (polling_) {
        std::error_code ec;
        if (!fs::is_directory(job_dir_, ec))
            return {};
    } else if (job_dir_watch_ < 0) {
        job_dir_watch_ = watch(job_dir_);
        if (job_dir_watch_ < 0) {
            if (buildlogs_watch_ < 0)
                buildlogs_watch_ = watch(job_dir_.parent_path());
            return {};
        }
        // Other jobs starting are no concern of ours any more.
        if (buildlogs_watch_ >= 0)
            ::inotify_rm_watch(inotify_.native_handle(), buildlogs_watch_);
        buildlogs_watch_ = -1;
    }
    std::vector<std::pair<std::int64_t, std::string>> found;
    std::error_code ec;
    for (auto it = fs::directory_iterator(job_dir_, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
        std::error_code type_ec;
        if (!it->is_directory(type_ec))
            continue;
        std::string task = it->path().filename().string();
        // Watch first, then look: a log created in between is still seen by the read that
        // follows. A directory removed and made again is a new inode, with a new watch;
        // the same one again costs one system call.
        watch(it->path());
        if (std::find(known_tasks_.begin(), known_tasks_.end(), task) == known_tasks_.end())
            found.emplace_back(started_at(it->path()), std::move(task));
    }
    // Tasks in the order they started (sr.ht's `tail */log` went by name): a finished job's
    // logs then read like the build ran.
    std::sort(found.begin(), found.end());
    std::vector<std::string> tasks;
    for (auto& [started, task] : found) {
        known_tasks_.push_back(task);
        tasks.push_back(std::move(task));
    }
    return tasks;
}

// Looks at what inotify said: directories coming and going need a look, writes only a read.
void task_discovery::note_events(std::size_t length) {
    std::size_t at = 0;
    while (at + sizeof(inotify_event) <= length) {
        inotify_event event;
        std::memcpy(&event, events_.data() + at, sizeof event);
        if (event.mask & (directory_events | IN_Q_OVERFLOW))
            rescan_ = true;
        // The job directory itself went: wait for it in its parent again.
        if (event.wd == job_dir_watch_ && (event.mask & IN_IGNORED)) {
            job_dir_watch_ = -1;
            rescan_ = true;
        }
        at += sizeof(inotify_event) + event.len;
    }
}

asio::awaitable<void> task_discovery::wait() {
    if (cancelled_) {
        rescan_ = true;
        co_return;
    }
    if (polling_) {
        // New task directories are found by looking again, as inotify would have said.
        rescan_ = true;
        poll_timer_.expires_after(poll_interval_);
        auto [ec] = co_await poll_timer_.async_wait(default_token());
        if (ec && !(ec == asio::error::operation_aborted && cancelled_))
            throw boost::system::system_error(ec, "waiting to re-read the logs");
        co_return;
    }
    auto [ec, length] = co_await inotify_.async_read_some(asio::buffer(events_), default_token());
    if (ec == asio::error::operation_aborted && cancelled_) {
        rescan_ = true;
        co_return;
    }
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again)
        throw boost::system::system_error(ec, "reading inotify events");
    note_events(length);
}

void task_discovery::cancel() {
    cancelled_ = true;
    rescan_ = true;
    if (polling_)
        poll_timer_.cancel();
    else
        inotify_.cancel();
}

} // namespace jobssh
