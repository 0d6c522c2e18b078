#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <jobssh/common/default_token.hpp>
#include <jobssh/common/failure.hpp>
#include <jobssh/common/syslog.hpp>
#include <jobssh/gateway/find_runner.hpp>
#include <string>
#include <vector>

namespace jobssh {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

// One runner's answer, kept instead of thrown: the group waits for all of them.
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

} // namespace

asio::awaitable<std::optional<located_job>> find_job_runner(const config& cfg, job_id job) {
    auto executor = co_await asio::this_coro::executor;
    const auto& runners = cfg.gateway.runners;
    using operation = decltype(asio::co_spawn(executor, ask_runner(cfg, {}, job), asio::deferred));
    std::vector<operation> asks;
    asks.reserve(runners.size());
    for (const auto& runner : runners)
        asks.push_back(asio::co_spawn(executor, ask_runner(cfg, runner, job), asio::deferred));
    auto [order, errors, answers] =
        co_await asio::experimental::make_parallel_group(std::move(asks))
            .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);

    std::string unreachable;
    for (std::size_t at = 0; at < runners.size(); ++at) {
        const std::string name = runners[at].host + ":" + std::to_string(runners[at].port);
        if (errors[at]) {
            unreachable += (unreachable.empty() ? "" : "; ") + name + ": failed";
            continue;
        }
        answer& said = answers[at];
        if (said.what == answer::kind::has_job)
            co_return located_job{runners[at], std::move(said.info)};
        if (said.what == answer::kind::no_answer) {
            unreachable += (unreachable.empty() ? "" : "; ") + name + ": " + said.detail;
            // Each runner that is down gets its own line: the session's says only 69.
            log_error(log_fields()
                          .add("job", job)
                          .add("runner", name)
                          .add("outcome", "runner_unreachable"));
        }
    }
    if (!unreachable.empty())
        throw failure_error(failure::runner_unreachable,
                            "no runner that answered has the job; " + unreachable);
    co_return std::nullopt;
}

} // namespace jobssh
