#pragma once

// The sr.ht config.ini that a builds.sr.ht deployment already has, plus jobssh's own
// [jobssh] section. Kept free of Asio/Beast so that jobssh-keys starts fast.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace jobssh {

// Where a key is checked (docs/design.md, "Where the key is checked"): `keys` asks meta in
// jobssh-keys, so that sshd can go on to the client's next key; `shell` is the 2019 design,
// every key let in and checked by jobssh-shell.
enum class authenticate_mode { keys, shell };

// A runner host as builds.sr.ht names a job's runner: its worker API's "host:port". The
// gateway asks that API and reaches the host's sshd by the same host name.
struct runner_address {
    std::string host;
    std::uint16_t port = 8080;
};

// [jobssh::gateway] (docs/design.md, "Many runner hosts: the gateway").
struct gateway_config {
    // On a gateway: every runner, the user and port of their sshd, the gateway's own
    // identity and a known_hosts file pinning the runners' host keys. No runners: not a
    // gateway.
    std::vector<runner_address> runners;
    std::string ssh_user = "builds";
    std::uint16_t ssh_port = 22;
    std::filesystem::path identity;
    std::filesystem::path known_hosts;
    // On a runner: the gateways' public keys ("<type> <base64> [comment]" lines). Only
    // these keys may name the user a gateway authenticated.
    std::filesystem::path gateway_keys;
};

struct config {
    std::filesystem::path file; // where it was read from; empty when only defaults apply

    // [sr.ht]
    std::string owner_name = "the administrators";
    std::string owner_email = "root@localhost";

    // [builds.sr.ht]
    std::string builds_origin = "http://localhost";

    // [builds.sr.ht::worker] bind-address; 0.0.0.0 (any) means loopback for us.
    std::string runner_host = "127.0.0.1";
    std::uint16_t runner_port = 8080;
    std::filesystem::path buildlogs = "/var/log/builds.sr.ht";

    // [meta.sr.ht]: origin for the /keys hint shown to users, internal-origin (when set)
    // for API calls.
    std::string meta_origin = "http://localhost";
    std::string meta_api_origin = "http://localhost";

    // [jobssh]
    std::string login_user = "builds";
    std::filesystem::path shell; // empty: jobssh-shell next to jobssh-keys
    authenticate_mode authenticate = authenticate_mode::keys;
    std::chrono::milliseconds keys_timeout{2000}; // bound on jobssh-keys' whole meta call
    std::chrono::milliseconds http_timeout{5000};
    std::chrono::milliseconds poll_interval{
        1000};                         // how often tail asks the runner for the job's state
    std::filesystem::path vm_identity; // empty: ssh's defaults for the running user
    std::filesystem::path state_dir = "/var/lib/jobssh";
    // How long the VM is kept after the job's last session, when that was a one-command
    // session (as long as the worker keeps a failed job's VM); 0: terminated at once.
    std::chrono::milliseconds linger{std::chrono::minutes(10)};
    // A unix datagram socket that takes the syslog records instead of /dev/log (a machine
    // with no syslog daemon, such as the sandbox, which collects them); empty: /dev/log.
    std::filesystem::path syslog_socket;
    // Where interactive sessions are recorded (asciicast v2, DIR/<job>/); empty: not at all.
    std::filesystem::path recordings;
    bool record_input = false; // the keys the user types go into recordings too
    bool watch = true;         // live sessions can be watched (their screen passes through us)
    // Sessions of a job ride one OpenSSH master connection to its VM (on a gateway: one per
    // runner host) instead of a handshake each; false: a connection per session.
    bool multiplex = true;

    gateway_config gateway;
};

// A file that exists but cannot be used: the message names the file and, when known, the line.
class config_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Reads one config.ini; keys it lacks keep their defaults. Throws config_error.
config load_config(const std::filesystem::path& file);

// `--config FILE` (when given) wins, then $JOBSSH_CONFIG, then /etc/sr.ht/config.ini, then
// /etc/jobssh/config.ini; none of them existing gives the defaults. An explicitly named file
// that does not exist is a config_error.
config find_config(const std::optional<std::filesystem::path>& explicit_file);

} // namespace jobssh
