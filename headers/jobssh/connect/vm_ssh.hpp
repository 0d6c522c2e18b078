#pragma once

// How jobssh reaches a job's VM: the OpenSSH client's command line, the VM's pinned host
// keys, and waiting for a VM whose sshd is not up yet.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <jobssh/common/failure.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobssh {

struct config;
struct job_info;

// The VM's host keys from the runner, written as a known_hosts file ("[host]:port type
// key" lines) for the session, and removed with it.
class pinned_host_keys {
public:
    // Throws std::system_error when the file cannot be written, std::invalid_argument when
    // a key is not "<type> <base64>".
    pinned_host_keys(const std::filesystem::path& directory, const job_info& info);
    ~pinned_host_keys();
    pinned_host_keys(const pinned_host_keys&) = delete;
    pinned_host_keys& operator=(const pinned_host_keys&) = delete;

    const std::filesystem::path& file() const { return file_; }

private:
    std::filesystem::path file_;
};

// Where ssh's own diagnostics go (`-E FILE`): apart from the remote command's stderr, which
// reaches the user untouched, since what ssh says is about jobssh's plumbing (paths under
// state-dir, known_hosts advice, loopback ports). The file is removed with the session.
class ssh_diagnostics {
public:
    // Throws std::system_error when the file cannot be made.
    explicit ssh_diagnostics(const std::filesystem::path& directory);
    ~ssh_diagnostics();
    ssh_diagnostics(const ssh_diagnostics&) = delete;
    ssh_diagnostics& operator=(const ssh_diagnostics&) = delete;

    const std::filesystem::path& file() const { return file_; }
    // What ssh wrote, its first 16 KiB.
    std::string text() const;

private:
    std::filesystem::path file_;
};

// What the VM's ssh is given besides its options.
struct vm_ssh_files {
    // The pinned host keys: with them the VM must present one (StrictHostKeyChecking=yes);
    // without, any key is taken, as builds.sr.ht does.
    std::optional<std::filesystem::path> known_hosts;
    // ssh's diagnostics (-E); without, they go to its stderr.
    std::optional<std::filesystem::path> diagnostics;
    // The job's master connection (control_master.hpp) to ride instead of a connection of
    // its own; without, ssh connects by itself. Defaulted, since most callers give only the
    // first two (`{known_hosts, diagnostics}`).
    std::optional<std::filesystem::path> control_path = std::nullopt;
};

// `ssh -t|-T -e none -p PORT … USER@HOST bash|REMOTE_COMMAND`: the remote command is one
// argument, passed on unchanged for the VM's shell to read (an empty one: bash). No escape
// character (the user's `~.` belongs to the user's own ssh, `~~.` to one they run on the
// VM); LANG and LC_* are sent on, as the user's ssh sent them to us. Throws
// std::invalid_argument when the runner's ssh_user or ssh_host could be mistaken for an
// option or is not a plain name.
std::vector<std::string> vm_ssh_argv(const config& cfg, const job_info& info, bool tty,
                                     const std::string& remote_command, const vm_ssh_files& files);

// The options and destination of the job's master connection to the VM (for
// ensure_master): how the session's ssh would connect and log in, host keys pinned the same
// way, with no session of its own. Throws std::invalid_argument as vm_ssh_argv does.
std::vector<std::string> vm_master_options(const config& cfg, const job_info& info,
                                           const vm_ssh_files& files);

// Why jobssh's own ssh to the VM failed, from its exit status and its diagnostics: nullopt
// when it did not (a 255 with nothing said is the remote command's own status).
std::optional<failure> vm_ssh_failure(int exit_status, std::string_view diagnostics);

// Waits until the VM accepts TCP connections on its SSH port, retrying with backoff until
// `bound` (or the job's deadline, when sooner). `on_first_retry` runs once, before the
// first wait, to tell the user. False when it never came up.
boost::asio::awaitable<bool> wait_for_vm(const job_info& info, std::chrono::milliseconds bound,
                                         std::function<void()> on_first_retry);

} // namespace jobssh
