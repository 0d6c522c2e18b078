#pragma once

// Where a job's sessions are kept: recordings under [jobssh] recordings DIR/<job>/, and the
// live sessions under [jobssh] state-dir live/<job>/ (the session's file, or a link to its
// recording). A live session holds an exclusive flock on its file while it runs: the kernel
// drops it when the session's process dies, SIGKILL included, so a file whose lock is free
// belongs to a session that ended.
//
// File names: <UTC start, 20261130T110830Z>-<user>-<pid>.cast, so that sorting by name is
// sorting by start.

#include <chrono>
#include <filesystem>
#include <jobssh/common/job_id.hpp>
#include <optional>
#include <string>
#include <vector>

namespace jobssh {

struct config;

std::string session_file_name(std::chrono::system_clock::time_point start, std::string_view user,
                              int pid);

std::filesystem::path recordings_dir(const config& cfg, job_id job);
std::filesystem::path live_dir(const config& cfg, job_id job);

struct session_file {
    std::filesystem::path path;
    std::string user; // from the name
    std::chrono::system_clock::time_point start;
};

// The job's recordings, oldest first (their number in `replay` is their place here, from 1).
std::vector<session_file> job_recordings(const config& cfg, job_id job);

// The job's live sessions, oldest first. Files left by sessions that ended without cleaning
// up (killed) are removed on the way.
std::vector<session_file> live_sessions(const config& cfg, job_id job);

// live_dir(cfg, job) and the directory above it, each when it is empty: nothing of a
// session stays in state-dir once it ended. A session starting meanwhile makes them again.
void remove_empty_live_dirs(const config& cfg, job_id job);

// Whether the session writing `fd`'s file still runs (holds its lock).
bool session_running(int fd);

// "2026-11-30 11:08 UTC"
std::string utc_minute(std::chrono::system_clock::time_point when);

} // namespace jobssh
