#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <jobssh/common/default_token.hpp>
#include <jobssh/common/failure.hpp>
#include <jobssh/common/syslog.hpp>
#include <jobssh/gateway/find_runner.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace jobssh {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

// One runner's answer, kept instead of thrown.
struct answer {
    enum class kind { has_job, no_job, no_answer };
    kind what = kind::no_answer;
    job_info info;
    std::string detail; // for no_answer: why, for the operator's log
};

asio::awaitable<answer> fetch_answer(config cfg, job_id job) {
    answer result;
    try {
        auto info = co_await fetch_job_info(cfg, job);
        if (info) {
            result.what = answer::kind::has_job;
            result.info = std::move(*info);
        } else {
            result.what = answer::kind::no_job;
        }
    } catch (const std::exception& error) {
        result.detail = error.what();
    }
    co_return result;
}

// The whole exchange bounded by http-timeout, not each of its steps: a runner that
// trickles its answer must not hold up the session.
asio::awaitable<answer> ask_runner(config cfg, runner_address runner, job_id job) {
    cfg.runner_host = runner.host;
    cfg.runner_port = runner.port;
    asio::steady_timer timer(co_await asio::this_coro::executor, cfg.http_timeout);
    auto ended = co_await (fetch_answer(cfg, job) || timer.async_wait(default_token()));
    if (ended.index() == 0)
        co_return std::get<0>(std::move(ended));
    answer late;
    late.detail =
        "runner: GET /job/" + std::to_string(job) + "/info: no answer within http-timeout";
    co_return late;
}

// The fan-out of one lookup: every runner's question runs on its own, and the lookup (then
// the session) holds this while it needs the answers.
class lookup_state {
public:
    lookup_state(const asio::any_io_executor& executor, job_id job,
                 const std::vector<runner_address>& runners)
        : job_(job)
        , said_(runners.size(), said::out)
        , cancels_(std::make_unique<asio::cancellation_signal[]>(runners.size()))
        , remaining_(runners.size())
        , settled_(executor, std::chrono::steady_clock::time_point::max()) {
        for (const auto& runner : runners)
            names_.push_back(runner.host + ":" + std::to_string(runner.port));
    }

    asio::cancellation_slot slot(std::size_t at) { return cancels_[at].slot(); }

    // A runner has the job, or every runner answered (or failed to).
    bool settled() const { return found_.has_value() || remaining_ == 0; }
    asio::steady_timer& settled_timer() { return settled_; }

    // One runner's answer (or its failure), as it comes.
    void take(std::size_t at, std::exception_ptr error, answer said_now) {
        if (given_up_ || said_[at] != said::out)
            return;
        --remaining_;
        if (error) {
            said_now.what = answer::kind::no_answer;
            said_now.detail = "failed";
        }
        switch (said_now.what) {
        case answer::kind::has_job:
            said_[at] = said::has_job;
            if (!found_) {
                found_ = at;
                info_ = std::move(said_now.info);
            } else {
                // Job IDs are unique across runners: two runners with one is a misconfigured
                // fleet. The first answer has the session.
                log_error(log_fields()
                              .add("job", job_)
                              .add("runner", names_[*found_])
                              .add("also", names_[at])
                              .add("outcome", "job_on_two_runners"));
            }
            break;
        case answer::kind::no_job:
            said_[at] = said::no_job;
            break;
        case answer::kind::no_answer:
            said_[at] = said::no_answer;
            unreachable(at, said_now.detail);
            break;
        }
        if (settled())
            settled_.cancel();
    }

    // The lookup or the session it found is over: the questions still out are cancelled,
    // and each runner that had not answered is logged as not answering.
    void give_up(std::string_view why) noexcept {
        try {
            if (given_up_)
                return;
            given_up_ = true;
            for (std::size_t at = 0; at < said_.size(); ++at) {
                if (said_[at] != said::out)
                    continue;
                unreachable(at, why);
                cancels_[at].emit(asio::cancellation_type::terminal);
            }
            settled_.cancel();
        } catch (...) {
            // logging and cancelling are best effort at the end of a session
        }
    }

    std::optional<located_job> found(const runner_address& runner) {
        if (!found_)
            return std::nullopt;
        return located_job{runner, std::move(info_), {}};
    }
    std::optional<std::size_t> found_at() const { return found_; }

    // Why the runners that did not answer did not, "" when all did.
    const std::string& unreachable_summary() const { return summary_; }

private:
    enum class said { out, has_job, no_job, no_answer };

    // Each runner that is down gets its own line: the session's says only 69.
    void unreachable(std::size_t at, std::string_view detail) {
        summary_ += (summary_.empty() ? "" : "; ") + names_[at] + ": " + std::string(detail);
        log_error(log_fields()
                      .add("job", job_)
                      .add("runner", names_[at])
                      .add("outcome", "runner_unreachable")
                      .add("detail", detail));
    }

    job_id job_;
    std::vector<std::string> names_;
    std::vector<said> said_;
    std::unique_ptr<asio::cancellation_signal[]> cancels_;
    std::size_t remaining_;
    asio::steady_timer settled_; // cancelled once settled
    std::optional<std::size_t> found_;
    job_info info_;
    std::string summary_;
    bool given_up_ = false;
};

} // namespace

asio::awaitable<std::optional<located_job>> find_job_runner(const config& cfg, job_id job) {
    auto executor = co_await asio::this_coro::executor;
    const auto& runners = cfg.gateway.runners;
    auto state = std::make_shared<lookup_state>(executor, job, runners);
    // Each question on its own, not in a group that waits for all: the session goes on as
    // soon as one runner has the job, while the others' answers are still logged.
    for (std::size_t at = 0; at < runners.size(); ++at)
        asio::co_spawn(executor, ask_runner(cfg, runners[at], job),
                       asio::bind_cancellation_slot(
                           state->slot(at), [state, at](std::exception_ptr error, answer said) {
                               state->take(at, error, std::move(said));
                           }));
    if (!state->settled())
        co_await state->settled_timer().async_wait(default_token());
    if (!state->settled()) {
        // The session ended during the lookup (a signal, a hang-up): the questions go too.
        state->give_up("the session ended before it answered");
        throw std::system_error(std::make_error_code(std::errc::operation_canceled),
                                "the job's lookup was cancelled");
    }
    if (auto at = state->found_at()) {
        auto found = state->found(runners[*at]);
        found->rest = std::shared_ptr<const void>(
            nullptr, [state](const void*) { state->give_up("no answer by the session's end"); });
        co_return found;
    }
    if (!state->unreachable_summary().empty())
        throw failure_error(failure::runner_unreachable,
                            "no runner that answered has the job; " + state->unreachable_summary());
    co_return std::nullopt;
}

} // namespace jobssh
