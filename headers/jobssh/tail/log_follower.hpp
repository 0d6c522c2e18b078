#pragma once

// Follows one job's logs on the runner host (docs/design.md, "Logs on the runner host"):
// <job dir>/log and every <job dir>/<task>/log, each from byte 0, task directories picked
// up as they appear. The kernel wakes us (inotify on the io_context); nothing polls, unless
// no inotify instance is left (fs.inotify.max_user_instances, per user, shared by every tail
// of the login user): then the logs are re-read every poll_interval, and the operator is
// told once in syslog, rather than the user being turned away.
//
// Output is whole lines, bytes untouched, task lines prefixed "[<task>] "; a line longer than
// the chunk goes out in pieces that are lines of their own (line_assembly.hpp). A log that
// is truncated or replaced is read again from its start, with a notice (followed_log.hpp);
// task directories are found by task_discovery.hpp.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <jobssh/tail/followed_log.hpp>
#include <memory>

namespace jobssh {

struct follow_options {
    std::size_t chunk_size = 64 * 1024;
    // How often the logs are re-read when inotify cannot be had.
    std::chrono::milliseconds poll_interval{1000};
    // A log with more to read is read on, a chunk at a time, while a batch holds less than
    // this (at least one chunk). Big writes are what a pipe to sshd moves fastest.
    std::size_t batch_size = 256 * 1024;
};

class log_follower {
public:
    // job_dir is <buildlogs>/<job>; it need not exist yet. A call reads about a batch (one
    // chunk with this constructor), so a slow reader holds back the reading, not memory.
    log_follower(boost::asio::any_io_executor executor, std::filesystem::path job_dir,
                 std::size_t chunk_size = 64 * 1024);
    log_follower(boost::asio::any_io_executor executor, std::filesystem::path job_dir,
                 follow_options options);
    ~log_follower();
    log_follower(const log_follower&) = delete;
    log_follower& operator=(const log_follower&) = delete;

    // Waits until at least one new whole line is there (or stop() was called) and returns
    // what is ready. After stop(), returns what is left up to the logs' current ends,
    // partial last lines included (each ended with a newline), then empty output.
    boost::asio::awaitable<follow_output> next();

    // Reads everything there is right now, without waiting (about a batch). Partial last
    // lines stay back, unless they reached the chunk size.
    follow_output read_available();

    // The job is over: the waiting next() returns, and from now on next() drains.
    void stop();
    bool stopped() const;

    // True when the kernel gave no inotify instance and the logs are re-read on a timer.
    bool polling() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace jobssh
