#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <jobssh/api/runner.hpp>
#include <jobssh/common/failure.hpp>
#include <jobssh/common/posix.hpp>
#include <jobssh/connect/relay.hpp>
#include <jobssh/connect/vm_ssh.hpp>
#include <jobssh/connect/vm_wait.hpp>
#include <optional>
#include <unistd.h>

namespace jobssh {

namespace asio = boost::asio;

namespace {

// A VM that does not answer may still be booting while its job runs; once the job has
// ended, one that refuses is gone and does not come back: the user is told at once.
constexpr std::chrono::seconds vm_boot_bound{30};
constexpr std::chrono::seconds vm_gone_bound{2};

bool vm_job_ended(const job_info& info) {
    return info.status != job_status::pending && info.status != job_status::queued &&
           info.status != job_status::running;
}

} // namespace

std::chrono::seconds vm_wait_bound(const job_info& info) {
    return vm_job_ended(info) ? vm_gone_bound : vm_boot_bound;
}

asio::awaitable<bool> wait_until_vm_answers(const job_info& info) {
    if (info.port == 0)
        throw failure_error(failure::no_vm, "the runner gives the job no VM port");
    bool waited = false;
    std::function<void()> tell_waiting;
    if (!vm_job_ended(info))
        tell_waiting = [&waited] {
            waited = true;
            write_all(STDERR_FILENO, "Waiting for the build VM to come up...\n");
        };
    if (!co_await wait_for_vm(info, vm_wait_bound(info), std::move(tell_waiting)))
        throw failure_error(vm_job_ended(info) ? failure::vm_gone : failure::vm_unreachable,
                            "VM port " + std::to_string(info.port) + " refused connections");
    co_return waited;
}

asio::awaitable<std::vector<std::string>> host_keys_once_booted(const config& cfg, job_id job,
                                                                const job_info& info) {
    std::optional<job_info> now;
    try {
        now = co_await fetch_job_info(cfg, job);
    } catch (const failure_error&) {
        co_return std::vector<std::string>{};
    }
    // Another VM (port or host changed meanwhile) is not the one that answered.
    if (!now || now->port != info.port || now->ssh_host != info.ssh_host)
        co_return std::vector<std::string>{};
    co_return now->host_keys;
}

bool dropped_before_login(std::string_view ssh_said) {
    auto says = [&](std::string_view words) {
        return ssh_said.find(words) != std::string_view::npos;
    };
    return says("kex_exchange_identification") || says("ssh_exchange_identification") ||
           (says("connect to host") && says("Connection reset by peer"));
}

asio::awaitable<bool> pause_before_retry(log_fields line, std::string_view ssh_said,
                                         const std::filesystem::path& diagnostics,
                                         std::chrono::milliseconds& backoff) {
    log_info(
        line.add("event", "vm_ssh_retry").add("after_ms", backoff.count()).add("ssh", ssh_said));
    if (::truncate(diagnostics.c_str(), 0) != 0)
        co_return false;
    asio::steady_timer pause(co_await asio::this_coro::executor, backoff);
    co_await pause.async_wait(asio::use_awaitable);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    co_return true;
}

asio::awaitable<bool> vm_went_away(const job_info& info, const session_result& result) {
    if (result.end != session_end::child_exited || result.exit_status != 255)
        co_return false;
    co_return !co_await wait_for_vm(info, std::chrono::milliseconds(0), nullptr);
}

} // namespace jobssh
