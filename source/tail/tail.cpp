#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <jobssh/common/config.hpp>
#include <jobssh/common/failure.hpp>
#include <jobssh/common/posix.hpp>
#include <jobssh/common/syslog.hpp>
#include <jobssh/common/user_output.hpp>
#include <jobssh/tail/log_follower.hpp>
#include <jobssh/tail/tail.hpp>
#include <optional>
#include <string>
#include <unistd.h>

namespace jobssh {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

bool job_succeeded(const job_info& info) {
    return info.status == job_status::success ||
           (info.status == job_status::running && job_finished(info));
}

namespace {

// A runner that does not answer for this many polls in a row ends the tail.
constexpr int failed_polls_allowed = 5;

bool cancelled(const boost::system::system_error& error) {
    return error.code() == asio::error::operation_aborted;
}

// Both halves of the tail end quietly when the other half cancels them: `&&` then rethrows
// the failure that ended the tail itself, not a multiple_exceptions wrapping a cancellation.
asio::awaitable<void> show_logs(log_follower& follower, user_output& out) {
    try {
        for (;;) {
            follow_output ready = co_await follower.next();
            for (const std::string& notice : ready.notices)
                write_all(STDERR_FILENO, "jobssh: " + notice + "\n");
            if (ready.lines.empty() && ready.notices.empty() && follower.stopped())
                co_return;
            co_await out.write(ready.lines);
        }
    } catch (const boost::system::system_error& error) {
        if (!cancelled(error))
            throw;
    }
}

// Asks the runner about the job until it is finished, then stops the follower (which then
// drains the logs to their current ends).
asio::awaitable<job_info> poll_until_finished(const config& cfg, job_id job, job_info info,
                                              log_follower& follower) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    int failed_polls = 0;
    while (!job_finished(info)) {
        timer.expires_after(cfg.poll_interval);
        co_await timer.async_wait(asio::use_awaitable);
        std::optional<failure_error> failed;
        try {
            std::optional<job_info> latest = co_await fetch_job_info(cfg, job);
            if (!latest)
                throw failure_error(failure::no_such_job,
                                    "job " + std::to_string(job) + " vanished while tailed");
            info = std::move(*latest);
            failed_polls = 0;
        } catch (const failure_error& error) {
            failed = error;
        }
        if (!failed)
            continue;
        // A request cut short because the user left is no failure of the runner.
        if ((co_await asio::this_coro::cancellation_state).cancelled() !=
            asio::cancellation_type::none)
            throw boost::system::system_error(asio::error::operation_aborted);
        // A runner restarting for a moment should not cut the user off.
        if (failed->kind() == failure::no_such_job || ++failed_polls >= failed_polls_allowed)
            throw *failed;
        log_error(std::string("tail: ") + failed->what());
    }
    follower.stop();
    co_return info;
}

asio::awaitable<job_info> watch_job(const config& cfg, job_id job, job_info info,
                                    log_follower& follower) {
    try {
        co_return co_await poll_until_finished(cfg, job, std::move(info), follower);
    } catch (const boost::system::system_error& error) {
        if (!cancelled(error))
            throw;
    }
    co_return job_info{};
}

} // namespace

asio::awaitable<tail_result> tail_job(const config& cfg, job_id job, job_info info,
                                      user_output& out) {
    // A job that waits for a runner has no log yet: the user is told at once why nothing
    // shows (the wait is the job's own, ended by the user's Ctrl-C or hang-up).
    if (info.status == job_status::pending || info.status == job_status::queued)
        write_all(STDERR_FILENO,
                  "Job " + std::to_string(job) + " has not started yet; waiting for it...\n");
    follow_options options;
    options.poll_interval = cfg.poll_interval;
    log_follower follower(co_await asio::this_coro::executor, cfg.buildlogs / std::to_string(job),
                          options);
    job_info last =
        co_await (show_logs(follower, out) && watch_job(cfg, job, std::move(info), follower));
    tail_result result;
    result.exit_code = job_succeeded(last) ? 0 : 1;
    result.info = std::move(last);
    co_return result;
}

} // namespace jobssh
