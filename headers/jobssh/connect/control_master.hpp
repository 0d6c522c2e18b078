#pragma once

// OpenSSH master connections (ControlMaster) that sessions ride instead of a handshake of
// their own (docs/design.md, "Fewer handshakes"). A master is `ssh -f -M -N -S SOCKET -o
// ControlPersist=IDLE …`, started with no descriptor of any session (stdio on /dev/null, a
// session of its own), so that nobody waiting for a session's EOF waits for the master
// (OpenSSH bug 1988). Beside its socket:
//
//   SOCKET.pid   the master's pid, to stop it when it no longer answers
//   SOCKET.lock  taken (flock) while a master is checked or started: a session that finds
//                another starting one waits for that handshake instead of making its own
//
// A session that finds a master not answering (killed: its socket left behind; hung) stops
// it, removes its files and starts another; it never rides a master it has not seen answer.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <jobssh/common/syslog.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace jobssh {

// `directory/name` when it is short enough for a unix socket (sun_path, with the 17 bytes
// OpenSSH appends to it while it makes the socket); nullopt when not.
std::optional<std::filesystem::path> control_path(const std::filesystem::path& directory,
                                                  std::string_view name);

// Whether `file_name` is one of the files of the master whose socket is named `socket_name`
// (the socket, its pid and lock files, OpenSSH's temporary name while it makes the socket).
bool is_master_file(std::string_view file_name, std::string_view socket_name);

// The ssh options that make a session ride the master at `socket`, and never become one.
std::vector<std::string> ride_master_options(const std::filesystem::path& socket);

// The pid of the master answering at `socket` (its hello and an alive check, both within
// `bound`); nullopt when none answers (no socket, a killed master's socket, a hung master).
std::optional<pid_t> master_answers(const std::filesystem::path& socket,
                                    std::chrono::milliseconds bound);

// Stops the master of `socket` named by its pid file (SIGTERM, then SIGKILL when it has not
// ended within `grace`), and removes its socket and pid file. The lock file stays: whoever
// owns the directory removes it.
void stop_master(const std::filesystem::path& socket,
                 std::chrono::milliseconds grace = std::chrono::milliseconds(2000));

// What ssh riding a master said, less its lines about the master (one gone since it was seen
// answering makes ssh connect by itself, and say so): those are appended to `about_master`.
std::string without_master_complaints(std::string_view said, std::string& about_master);

struct master_outcome {
    enum class state {
        ready,   // a master answers at the socket: ride it
        failed,  // ssh could not make one: its exit status and what it said
        timeout, // neither it nor a master another session is starting was there in time
    };
    state outcome = state::failed;
    bool started = false;  // this call made it (the first session of a job, or a replacement)
    bool replaced = false; // a master that did not answer was stopped first
    int exit_status = 0;
    std::string ssh_said;
};

// Makes sure a master answers at `socket`: one that answers is used; otherwise one that does
// not is stopped and `ssh -f -M -N -S SOCKET -o ControlPersist=IDLE OPTIONS…` is started
// (OPTIONS: the connection's options and destination, with `-E FILE` for what it says,
// which `diagnostics` reads back). All of it within `bound`. Cancelled, the ssh being started
// is killed.
boost::asio::awaitable<master_outcome> ensure_master(std::filesystem::path socket,
                                                     std::vector<std::string> options,
                                                     std::chrono::seconds idle,
                                                     std::chrono::milliseconds bound,
                                                     std::function<std::string()> diagnostics);

// ensure_master for a session, which rides what it gives: the socket when a master answers
// (syslog hears when this session made or replaced it, on `line`); nullopt, syslog told why,
// when the session is to connect by itself. `refuse` sees a master ssh could not make and
// throws when that is the session's own failure (the VM or runner unreachable, a host key
// refused), as it would have been without a master; it returns true when the caller tries
// again (nullopt then, and syslog is not told), false for nullopt as above.
boost::asio::awaitable<std::optional<std::filesystem::path>>
master_to_ride(std::filesystem::path socket, std::vector<std::string> options,
               std::chrono::seconds idle, std::chrono::milliseconds bound,
               std::function<std::string()> diagnostics, log_fields line,
               std::function<bool(const master_outcome&)> refuse);

} // namespace jobssh
