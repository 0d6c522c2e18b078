#pragma once

// The VM's life (docs/design.md): it is terminated when the job's last interactive session ends;
// after the last one-command session it is kept for [jobssh] linger, and terminated then
// unless a session started meanwhile; a session that ends before the user's shell or command
// started leaves the job and its VM as it found them (no claim, no terminate). Each session
// has a watcher: jobssh-shell itself in a hidden mode, detached, holding no descriptor of the
// user's session, which does the session's leave when the session was killed (SIGKILL, OOM)
// and carries the linger timer. It exits when that is done.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <jobssh/common/job_id.hpp>
#include <jobssh/common/posix.hpp>
#include <jobssh/connect/session_registry.hpp>
#include <memory>
#include <optional>
#include <string>

namespace jobssh {

struct config;

class job_session {
public:
    // Joins the job (not started yet) and starts the session's watcher. Throws
    // failure_error (internal) when state-dir cannot be used.
    job_session(boost::asio::any_io_executor executor, const config& cfg, job_id job,
                session_kind kind, std::string user);
    job_session(const job_session&) = delete;
    job_session& operator=(const job_session&) = delete;
    ~job_session();

    // The user's shell or command started: the session counts as started, and the job is
    // claimed (POST /job/N/claim, in the background; leave() waits for it).
    void started();
    bool has_started() const { return started_; }

    // Ends the session and acts on what its end means for the VM: terminate (under the
    // job's lock, so that no session can start on the VM meanwhile), linger (handed to the
    // watcher), or nothing. True when the VM was terminated or left to linger: the session
    // was the job's last. `reached` false: the session started but never reached the user's
    // shell (see session_registration::leave): no terminate, no linger.
    boost::asio::awaitable<bool> leave(bool reached = true);

    struct claim_state;

private:
    boost::asio::any_io_executor executor_;
    const config& cfg_;
    job_id job_;
    session_kind kind_;
    std::string user_;
    std::optional<session_registration> registration_;
    unique_fd watcher_; // the write end of the watcher's pipe; -1 without a watcher
    bool started_ = false;
    std::shared_ptr<claim_state> claim_; // the claim sent in the background once started
};

// jobssh-shell --watch-session …: the watcher's own main. Not for people.
bool is_session_watcher(int argc, char** argv);
int run_session_watcher(int argc, char** argv);

} // namespace jobssh
