#pragma once

// Who is connected to which job, across jobssh-shell processes, and what the end of a session
// means for the job's VM. Under [jobssh] state-dir, a directory per job that has sessions:
//
//   job-<id>/lock             taken (flock) while a session joins, starts or leaves: the count
//                             and what follows from it (terminate, linger) are one step
//   job-<id>/joining-<s>      a session that has not started yet (see session_kind)
//   job-<id>/interactive-<s>  a started interactive session (`connect <job>`)
//   job-<id>/command-<s>      a started one-command session (`connect <job> -- cmd`)
//   job-<id>/linger-<s>       the VM kept after the last one-command session ended
//   job-<id>/terminate-due    the last started session ended while one was still joining
//   job-<id>/mux, mux.pid, mux.lock
//                             the job's master connection to its VM ([jobssh] multiplex,
//                             control_master.hpp): opened by the first session to reach the
//                             VM, ridden by the later ones
//
// Each <s> file is held with flock by its session and by the session's watcher (which
// inherits the descriptor), so that a session killed with SIGKILL still counts until its
// watcher has left for it; one whose holders are all gone stops counting and is removed by
// whoever counts next. The directory is removed with its last entry, under its lock; a
// session that was about to join it finds the lock it waited for unlinked and starts again.
// A directory we cannot use (an operator's run as root left it, say) is moved aside, never
// a reason to refuse a user.

#include <cstddef>
#include <filesystem>
#include <jobssh/common/job_id.hpp>
#include <jobssh/common/posix.hpp>
#include <optional>
#include <string>

namespace jobssh {

enum class session_kind { interactive, command };

// What the end of a session means for the job's VM.
enum class vm_verdict {
    keep,      // other sessions still use it, or this one never started
    terminate, // this was the job's last session (and the lock is held while terminating)
    linger,    // the last session was a one-command one: keep the VM for [jobssh] linger
};

// The per-job lock, held while it lives; when the job's directory holds nothing else on
// release, it is removed. Throws std::system_error when state-dir cannot be used.
class job_lock {
public:
    job_lock(const std::filesystem::path& state_dir, job_id job);
    ~job_lock();
    job_lock(job_lock&&) = default;
    job_lock& operator=(job_lock&&) = delete;
    job_lock(const job_lock&) = delete;

    const std::filesystem::path& directory() const { return dir_; }

private:
    std::filesystem::path dir_;
    unique_fd fd_;
};

// The decision of a leave, and the lock it was made under: keep it while acting on it.
struct leave_decision {
    vm_verdict verdict;
    job_lock lock;
};

class session_registration {
public:
    // Joins `job` as a session that has not started yet. Throws std::system_error when the
    // state directory cannot be used.
    session_registration(const std::filesystem::path& state_dir, job_id job);
    // Leaves (keeping the VM) when leave() was not called.
    ~session_registration();
    session_registration(const session_registration&) = delete;
    session_registration& operator=(const session_registration&) = delete;

    // The user's shell or command started: the session now counts as `kind`, and a VM kept
    // lingering, or a terminate left due, is called off.
    void started(session_kind kind);

    // Ends this session, and decides under the job's lock what its end means for the VM:
    // of sessions ending at the same time exactly one is the last. `can_linger` false
    // makes the end of a one-command session terminate at once. `reached` false: the session
    // started but its shell died before the user had it (a Ctrl-C during the VM shell's
    // start-up files); it is decided about as one that never started.
    leave_decision leave(bool can_linger, bool reached = true);

    // Lets go of the session without leaving: its watcher, which holds the same flock, leaves
    // for it.
    void abandon() { fd_.reset(); }

    // The descriptor holding the session's flock, for its watcher to inherit; its name.
    int descriptor() const { return fd_.get(); }
    const std::string& id() const { return id_; }

private:
    std::filesystem::path state_dir_;
    job_id job_;
    std::string id_;
    unique_fd fd_;
};

// A session's leave done by someone else (its watcher, once the session died): the same
// decision as session_registration::leave for the session `id`. A session found started as a
// one-command session is left lingering (its file renamed linger-<id>) unless !can_linger.
leave_decision leave_for(const std::filesystem::path& state_dir, job_id job, const std::string& id,
                         bool can_linger);

// The linger of session `id` is over: terminate unless it was called off (its file gone)
// or a session uses the VM now.
leave_decision linger_over(const std::filesystem::path& state_dir, job_id job,
                           const std::string& id);

// The path of `id`'s linger file.
std::filesystem::path linger_file(const std::filesystem::path& state_dir, job_id job,
                                  const std::string& id);

// The socket of the job's master connection to its VM; nullopt when state-dir is too long
// for a unix socket's path.
std::optional<std::filesystem::path> job_master_socket(const std::filesystem::path& state_dir,
                                                       job_id job);

// How many live sessions `job` has, started or joining.
std::size_t live_sessions(const std::filesystem::path& state_dir, job_id job);

} // namespace jobssh
