#pragma once

// Who is connected to which job, across jobssh-shell processes: a file per session under
// [jobssh] state-dir, held with flock. The kernel releases a lock when its holder dies, so
// a session killed with SIGKILL stops counting without anybody cleaning up after it.

#include <cstddef>
#include <filesystem>
#include <jobssh/common/job_id.hpp>
#include <jobssh/common/posix.hpp>

namespace jobssh {

class session_registration {
public:
    // Registers a session of `job`. Throws std::system_error when the state directory
    // cannot be used.
    session_registration(const std::filesystem::path& state_dir, job_id job);
    // Leaves (without telling whether it was the last) when leave() was not called.
    ~session_registration();
    session_registration(const session_registration&) = delete;
    session_registration& operator=(const session_registration&) = delete;

    // Ends this session. True when no other live session of the job is left: then this
    // one, and only this one, should terminate the job. Decided under a per-job lock, so
    // that of sessions ending at the same time exactly one is the last.
    bool leave();

private:
    std::filesystem::path job_dir_;
    std::filesystem::path file_;
    unique_fd fd_;
};

// How many live sessions `job` has (files whose lock is held).
std::size_t live_sessions(const std::filesystem::path& state_dir, job_id job);

} // namespace jobssh
