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
class screen_observer;

// Joins the job's sessions, waits until the VM answers (told at once when the job has no VM,
// or has ended and its VM is gone), prints the banner (not for one command), runs `ssh …
// <ssh_user>@<ssh_host> bash` (or the remote command, unchanged, when not empty) and relays until
// it ends; the job is claimed once the shell or command started, and its VM terminated or left to
// linger as "The VM's life" says (vm_life.hpp). Cancelled, it ends the session as a hang-up (the
// relay stops ssh) and cleans up as after any other end. Returns the exit status jobssh-shell exits
// with (the remote command's). Throws failure_error for jobssh's own failures.
// A session on a pty shows its screen to `observer` when one is given (recording,
// watching); without one the screen's bytes take the direct path.
boost::asio::awaitable<int> connect_to_vm(const config& cfg, job_id job, const job_info& info,
                                          const ssh_key& key, const std::string& remote_command,
                                          screen_observer* observer = nullptr);

// What a `connect <job>` without a command is told when sshd gave it no terminal (the
// user's ssh was run without -t), once the VM answers.
std::string no_terminal_hint(job_id job);

// How far `when` is from `now`, the way the banner says it: "4 hours from now", "a minute
// from now", "5 minutes ago" (Python humanize's naturaltime, which builds.sr.ht uses: rounded
// down, so that it never promises more time than there is: 3 h 59 min reads "3 hours").
std::string humanize_from_now(std::chrono::system_clock::time_point when,
                              std::chrono::system_clock::time_point now);

// The banner: "Connected to build job #N (status): URL", when the VM will be terminated,
// and a blank line.
std::string connect_banner(const config& cfg, job_id job, const job_info& info,
                           std::chrono::system_clock::time_point now);

} // namespace jobssh
