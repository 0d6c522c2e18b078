#pragma once

// Waiting for the job's VM around a `connect` session (connect.cpp): its sshd answering
// before anything is promised, its host keys once it booted, a connection it dropped before
// login tried again, and whether it went away under the session.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <filesystem>
#include <jobssh/common/job_id.hpp>
#include <jobssh/common/syslog.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace jobssh {

struct config;
struct job_info;
struct session_result;

// How long a session waits for its VM, from the first try: 30 s while the job may still be
// booting it (pending, queued, running); 2 s once the job ended, since a VM that refuses
// then is gone and does not come back.
std::chrono::seconds vm_wait_bound(const job_info& info);

// Before anything is claimed or printed: waits until the VM accepts TCP connections on its
// SSH port, within vm_wait_bound. While the job runs, the user is told once on stderr
// ("Waiting for the build VM to come up...") when the VM does not answer at once. Returns
// true when it had to be waited for (it was still booting). Throws failure_error: no_vm when
// the runner gives the job no port; vm_gone (job ended) or vm_unreachable (job running) when
// the port never accepted a connection.
boost::asio::awaitable<bool> wait_until_vm_answers(const job_info& info);

// The VM's host keys ("<type> <base64>"), asked of the runner again once a VM that was
// booting answers: the info read before may predate them. Empty when the runner still has
// none, does not answer (its failure_error is caught), or now names another VM (port or
// host changed): that is not the one that answered. Throws nothing of its own.
boost::asio::awaitable<std::vector<std::string>>
host_keys_once_booted(const config& cfg, job_id job, const job_info& info);

// Whether ssh's diagnostics say the VM's sshd closed or reset the connection before the key
// exchange ("kex_exchange_identification", "ssh_exchange_identification", or a reset as it
// was made): OpenSSH's sshd does that past its MaxStartups, many sessions starting at once.
// Nothing ran and the VM is there: it is busy, not gone.
bool dropped_before_login(std::string_view ssh_said);

// The step before ssh (the job's master, or the session's own) is tried again after
// dropped_before_login: syslog gets `line` with event=vm_ssh_retry after_ms=<backoff in
// milliseconds> ssh=<what ssh said>; ssh's diagnostics file is emptied for the next try; then
// a pause of `backoff`, which is doubled up to 2 s for the next one. Returns false, having
// logged but not paused, when the diagnostics file cannot be emptied: the caller does not
// try again then. Deciding whether to retry (within the wait's bound) is the caller's.
boost::asio::awaitable<bool> pause_before_retry(log_fields line, std::string_view ssh_said,
                                                const std::filesystem::path& diagnostics,
                                                std::chrono::milliseconds& backoff);

// After a session that had begun: ssh exited 255 (its own failure; "closed by remote host",
// or timed out) and the VM's port no longer accepts connections (one try, no wait): the VM
// died under the session. False for any other end or status.
boost::asio::awaitable<bool> vm_went_away(const job_info& info, const session_result& result);

} // namespace jobssh
