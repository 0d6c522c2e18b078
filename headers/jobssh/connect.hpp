#pragma once

// `connect`: the job's VM behind a pty we own, relayed by coroutines.

#include <jobssh/command.hpp>

#include <boost/asio/awaitable.hpp>

#include <string>
#include <vector>

namespace jobssh {

struct config;
struct job_info;
struct ssh_key;

// Prints the banner, claims the job, runs `ssh … <ssh_user>@<ssh_host> bash` (or argv
// when not empty) and relays until it ends; sends terminate when this was the job's last
// session. Returns the exit status jobssh-shell exits with (the remote command's).
// Throws failure_error for jobssh's own failures.
boost::asio::awaitable<int> connect_to_vm(const config& cfg, job_id job, const job_info& info,
                                          const ssh_key& key,
                                          const std::vector<std::string>& argv);

} // namespace jobssh
