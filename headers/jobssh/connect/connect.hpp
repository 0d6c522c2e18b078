#pragma once

// `connect`: the job's VM behind a pty we own, relayed by coroutines.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <jobssh/common/job_id.hpp>
#include <string>

namespace jobssh {

struct config;
struct job_info;
struct ssh_key;

// Prints the banner, claims the job, runs `ssh … <ssh_user>@<ssh_host> bash` (or the
// remote command, unchanged, when not empty) and relays until it ends; sends terminate when this
// was the job's last session. Returns the exit status jobssh-shell exits with (the remote
// command's). Throws failure_error for jobssh's own failures.
boost::asio::awaitable<int> connect_to_vm(const config& cfg, job_id job, const job_info& info,
                                          const ssh_key& key, const std::string& remote_command);

// How far `when` is from `now`, the way the banner says it: "4 hours from now", "a minute
// from now", "5 minutes ago" (Python humanize's naturaltime, which builds.sr.ht uses, but
// rounded to the nearest unit rather than down: 3 h 59 min reads "4 hours from now").
std::string humanize_from_now(std::chrono::system_clock::time_point when,
                              std::chrono::system_clock::time_point now);

// The banner: "Connected to build job #N (status): URL", when the VM will be terminated,
// and a blank line.
std::string connect_banner(const config& cfg, job_id job, const job_info& info,
                           std::chrono::system_clock::time_point now);

} // namespace jobssh
