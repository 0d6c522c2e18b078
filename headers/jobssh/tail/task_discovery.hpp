#pragma once

// Finds a job's task directories as they appear, and wakes the follower when its logs may
// have changed: inotify on the job directory and on every task directory (a file's writes
// are reported to its directory's watch), or, when the kernel gives no inotify instance,
// a timer (fs.inotify.max_user_instances is per user, shared by every tail of the login
// user: the user is not turned away, the operator is told once in syslog).
//
// A task directory removed and made again is watched again as soon as it is seen; a job
// directory that does not exist yet (or no more) is waited for in its parent.

#include <array>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace jobssh {

class task_discovery {
public:
    task_discovery(boost::asio::any_io_executor executor, std::filesystem::path job_dir,
                   std::chrono::milliseconds poll_interval);

    // Task directories not seen before, in the order they started (their birth times; by
    // name where the file system keeps none). Looks only when something may have changed.
    std::vector<std::string> new_tasks();

    // Waits for the kernel's word that a log or a directory changed (or for the timer).
    // Returns at once, without error, after cancel().
    boost::asio::awaitable<void> wait();

    // Ends the wait; the next new_tasks() looks again.
    void cancel();

    bool polling() const { return polling_; }

private:
    int watch(const std::filesystem::path& dir);
    void note_events(std::size_t length);

    boost::asio::posix::stream_descriptor inotify_;
    boost::asio::steady_timer poll_timer_;
    std::filesystem::path job_dir_;
    std::chrono::milliseconds poll_interval_;
    bool polling_ = false;
    int job_dir_watch_ = -1;
    int buildlogs_watch_ = -1; // while the job directory does not exist
    bool rescan_ = true;
    bool cancelled_ = false;
    std::vector<std::string> known_tasks_;
    std::array<char, 16 * 1024> events_{};
};

} // namespace jobssh
