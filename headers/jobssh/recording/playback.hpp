#pragma once

// Showing sessions to a person: `watch` (a live session, as it happens) and `replay` (a
// recorded one, at its own pace). Both are read-only: the keys a viewer types go nowhere
// but `q` and Ctrl-C, which leave.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <jobssh/common/job_id.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace jobssh {

struct config;
class user_output;

// Shows the live screen of the job's newest live session (or the `session`-th, from 1,
// oldest first): first its recent output, then what it shows as it comes, until it ends,
// the viewer leaves or hangs up. The exit status: 0, or 128+N after signal N. Throws
// failure_error (nothing_to_watch) when there is no such session.
// What it shows goes to `out`, the session's one writer of the user's stdout.
boost::asio::awaitable<int> watch_session(const config& cfg, job_id job,
                                          std::optional<unsigned> session, user_output& out);

// Without `recording`, lists the job's recordings (number, start, user, length) on stdout.
// With it, plays that recording, pauses over 2 s shortened to 2 s, all of it `speed` times
// as fast. Throws failure_error (no_recording) when there is no such recording.
// What it plays goes to `out`, the session's one writer of the user's stdout.
boost::asio::awaitable<int> replay_recording(const config& cfg, job_id job,
                                             std::optional<unsigned> recording, double speed,
                                             user_output& out);

// The longest pause replay keeps.
inline constexpr std::chrono::seconds longest_pause{2};

// Where in the recent output of a screen a watcher is best started: at its last full
// clear (or switch to the alternate screen) when there is one, else (when `cut`: the
// output's start was cut off) at a line's start.
std::string_view recent_screen(std::string_view output, bool cut);

} // namespace jobssh
