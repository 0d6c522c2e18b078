#pragma once

// How jobssh reaches a job's VM: the OpenSSH client's command line, the VM's pinned host
// keys, and waiting for a VM whose sshd is not up yet.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <jobssh/common/shell_quote.hpp>
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

// `ssh -t|-T -p PORT [-i IDENTITY] -o … USER@HOST bash|'cmd' 'args'…`. With `known_hosts`
// the VM must present one of the pinned keys (StrictHostKeyChecking=yes); without, any key
// is taken, as builds.sr.ht does. Throws std::invalid_argument when the runner's ssh_user
// or ssh_host could be mistaken for an option or is not a plain name.
std::vector<std::string> vm_ssh_argv(const config& cfg, const job_info& info, bool tty,
                                     const std::vector<std::string>& command,
                                     const std::optional<std::filesystem::path>& known_hosts);

// ssh failed because the VM presented a key other than the pinned ones.
bool host_key_refused(int exit_status, std::string_view ssh_stderr);

// Waits until the VM accepts TCP connections on its SSH port, retrying with backoff until
// `bound` (or the job's deadline, when sooner). `on_first_retry` runs once, before the
// first wait, to tell the user. False when it never came up.
boost::asio::awaitable<bool> wait_for_vm(const job_info& info, std::chrono::milliseconds bound,
                                         std::function<void()> on_first_retry);

} // namespace jobssh
