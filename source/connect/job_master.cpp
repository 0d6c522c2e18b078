#include <jobssh/api/runner.hpp>
#include <jobssh/common/config.hpp>
#include <jobssh/common/failure.hpp>
#include <jobssh/connect/control_master.hpp>
#include <jobssh/connect/job_master.hpp>
#include <jobssh/connect/session_registry.hpp>
#include <jobssh/connect/vm_ssh.hpp>
#include <jobssh/connect/vm_wait.hpp>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace jobssh {

namespace asio = boost::asio;

namespace {

// The job's master connection: its handshake (ssh's ConnectTimeout is 10 s), or the one
// another session is making; and how long it is kept with no session after the linger.
constexpr std::chrono::seconds master_bound{15};
constexpr std::chrono::seconds master_idle_margin{60};

} // namespace

asio::awaitable<std::optional<std::filesystem::path>>
job_master(const config& cfg, job_id job, const job_info& info, const log_fields& line,
           const std::optional<std::filesystem::path>& known_hosts,
           std::chrono::steady_clock::time_point give_up, std::chrono::milliseconds& backoff) {
    auto socket = job_master_socket(cfg.state_dir, job);
    if (!socket) {
        log_error(log_fields(line)
                      .add("event", "multiplex")
                      .add("outcome", "off")
                      .add("reason", "state-dir too long for a unix socket path")
                      .add("state_dir", cfg.state_dir.string()));
        co_return std::nullopt;
    }
    std::optional<ssh_diagnostics> said;
    std::vector<std::string> options;
    try {
        said.emplace(cfg.state_dir);
        options = vm_master_options(cfg, info, {known_hosts, said->file()});
    } catch (const std::system_error& e) {
        throw failure_error(failure::internal, std::string("state-dir: ") + e.what());
    } catch (const std::invalid_argument& e) {
        throw failure_error(failure::internal, std::string("runner sent bad VM data: ") + e.what());
    }
    auto idle = std::chrono::duration_cast<std::chrono::seconds>(cfg.linger) + master_idle_margin;
    for (;;) {
        std::string dropped;
        auto master = co_await master_to_ride(
            *socket, options, idle, master_bound, [&said] { return said->text(); }, line,
            [&](const master_outcome& outcome) {
                if (dropped_before_login(outcome.ssh_said) &&
                    std::chrono::steady_clock::now() + backoff < give_up) {
                    dropped = outcome.ssh_said;
                    return true;
                }
                if (auto failed = vm_ssh_failure(outcome.exit_status, outcome.ssh_said)) {
                    // Dropped once more at the end of the wait: the session tries by itself.
                    if (dropped_before_login(outcome.ssh_said))
                        return false;
                    log_error(log_fields(line).add("event", "vm_ssh").add("ssh", outcome.ssh_said));
                    throw failure_error(*failed, "ssh to the VM failed");
                }
                return false;
            });
        if (master || dropped.empty())
            co_return master;
        if (!co_await pause_before_retry(line, dropped, said->file(), backoff))
            co_return std::nullopt;
    }
}

} // namespace jobssh
