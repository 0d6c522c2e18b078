#pragma once

// The hop from a gateway to the runner that has the job: OpenSSH carries the session to
// the runner's own jobssh, with the gateway's identity and the runners' pinned host keys;
// the runner's jobssh-keys knows the gateway's key and lets it name the user it
// authenticated (docs/design.md, "Many runner hosts: the gateway").

#include <boost/asio/awaitable.hpp>
#include <exception>
#include <filesystem>
#include <jobssh/common/config.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobssh {

// What a gateway sends as the remote command, which the runner's jobssh-shell --gateway
// reads from SSH_ORIGINAL_COMMAND: `as-key <user> <fingerprint> <the user's command,
// unchanged>`, the fingerprint that of the key the user authenticated with at the gateway;
// `as <user> <command>` when there is no well-formed fingerprint (gateways before the
// fingerprint was sent send only this). Only a key listed in the runner's gateway-keys gets
// a forced command that reads this syntax.
std::string gateway_command(std::string_view user, std::string_view fingerprint,
                            std::string_view original_command);

struct gateway_request {
    std::string user;             // a valid sr.ht user name
    std::string fingerprint;      // the user's key, a valid fingerprint; empty with `as`
    std::string original_command; // what the user's ssh sent, byte for byte
};

// OpenSSH's SHA-256 fingerprint as it prints it: `SHA256:` and the 43 characters of the
// digest's unpadded base64.
bool valid_fingerprint(std::string_view fingerprint);

// nullopt unless the command is `as `, a valid sr.ht user name, then the end or one space
// and the rest; or `as-key `, a valid user name, one space, a valid fingerprint, then the
// end or one space and the rest.
std::optional<gateway_request> parse_gateway_command(std::string_view remote_command);

// `ssh -tt|-T -e none -F none -p PORT -i IDENTITY -o … -E LOG USER@HOST REMOTE_COMMAND`:
// no escape character, no config of the login user, the runners' host keys from
// known-hosts only (StrictHostKeyChecking=yes), BatchMode, the user's LANG and LC_* passed
// on, ssh's own diagnostics to `log` so that stderr carries only the runner's. With `master`,
// the hop rides that master connection to the runner (control_master.hpp).
std::vector<std::string> hop_ssh_argv(const config& cfg, const runner_address& runner, bool tty,
                                      const std::filesystem::path& log, std::string remote_command,
                                      const std::optional<std::filesystem::path>& master = {});

// The user's Ctrl-C or Ctrl-\ ended the hop before the runner's session began: the hop's
// ssh, still connecting on its own pty, got the signal from the key itself and died of it,
// so no runner saw it. The session ends as an interrupted one at the gateway.
struct interrupted_during_hop : std::exception {
    explicit interrupted_during_hop(int by)
        : signal(by) {}
    const char* what() const noexcept override { return "interrupted during the hop"; }
    int signal;
};

// With [jobssh] multiplex, every hop to a runner host rides one master connection to it,
// under state-dir (mux-<host>-<port>-<hash>), made by the first hop that finds none answering and
// closed by OpenSSH after 5 minutes with no session on it (ControlPersist).
// Relays the session through `ssh` to the runner (on a pty when our stdin is a terminal,
// else with pipes) until it ends, and returns the runner's exit status. SIGHUP and SIGTERM
// end it as on a runner: the hop's ssh is hung up, so the runner's session ends too.
// Throws failure_error: runner_host_key when the runner presented a key not in
// known-hosts, runner_unreachable when ssh could not reach or log in to it;
// interrupted_during_hop; user_hung_up when the user's end went away (SIGHUP on a terminal).
boost::asio::awaitable<int> hop_to_runner(const config& cfg, runner_address runner,
                                          std::string user, std::string fingerprint,
                                          std::string original_command);

} // namespace jobssh
