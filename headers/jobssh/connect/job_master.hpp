#pragma once

// The job's master connection (OpenSSH ControlMaster, control_master.hpp) as one `connect`
// session finds or makes it (docs/design.md, "Fewer handshakes"): one per job, under state-dir,
// kept while the job has sessions and [jobssh] linger after the last.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <filesystem>
#include <jobssh/common/job_id.hpp>
#include <jobssh/common/syslog.hpp>
#include <optional>

namespace jobssh {

struct config;
struct job_info;

// The socket of the job's master for this session to ride (vm_ssh_files::control_path): the
// master that answers there, or one made now (by the job's first session, or in place of one
// that no longer answers), its handshake within 15 s (ssh's ConnectTimeout is 10 s) and kept
// idle [jobssh] linger + 60 s. `line` starts the session's syslog lines (job=, user=);
// `known_hosts` is the session's pinned host keys, or none (any key taken, as builds.sr.ht
// does).
// nullopt: this session connects by itself; syslog says why (state-dir too long for a unix
// socket path, the master not made), or has the vm_ssh_retry line of a retry that could not
// be made (the master's diagnostics file not emptied). A VM that dropped the master's connection
// before login (dropped_before_login) is busy, not gone: the master is tried again after
// pause_before_retry (which doubles `backoff`), as long as now + `backoff` is before `give_up`;
// dropped again at the end, the session tries by itself. Throws failure_error: internal when
// state-dir cannot hold the master's diagnostics or the runner's VM data is bad
// (vm_master_options); vm_host_key, vm_login, vm_unreachable (vm_ssh_failure) when ssh failed to
// reach the VM or log in, the session's own failure as it would have been without a master.
boost::asio::awaitable<std::optional<std::filesystem::path>>
job_master(const config& cfg, job_id job, const job_info& info, const log_fields& line,
           const std::optional<std::filesystem::path>& known_hosts,
           std::chrono::steady_clock::time_point give_up, std::chrono::milliseconds& backoff);

} // namespace jobssh
