#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <jobssh/api/meta.hpp>
#include <jobssh/common/config.hpp>
#include <jobssh/common/failure.hpp>
#include <jobssh/common/user_name.hpp>
#include <jobssh/keys/meta_check.hpp>
#include <variant>

namespace jobssh {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

// lookup_key's failures come back as a verdict: `||` must see the lookup end, not throw.
asio::awaitable<meta_verdict> lookup(const config& cfg, std::string_view b64key) {
    meta_verdict verdict;
    try {
        auto key = co_await lookup_key(cfg, b64key);
        if (!key) {
            verdict.what = meta_verdict::kind::unknown;
        } else if (!valid_user_name(key->owner.name)) {
            // Never quoted into the line: a name meta.sr.ht would not have let anyone pick
            // is a malformed answer, and jobssh-shell asks again.
            verdict.detail = "meta: key lookup: owner name of " +
                             std::to_string(key->owner.name.size()) +
                             " characters is not a sr.ht user name";
        } else {
            verdict.what = meta_verdict::kind::known;
            verdict.owner = key->owner.name;
        }
    } catch (const std::exception& error) {
        verdict.detail = error.what();
    }
    co_return verdict;
}

asio::awaitable<meta_verdict> lookup_within(const config& cfg, std::string_view b64key) {
    asio::steady_timer timer(co_await asio::this_coro::executor, cfg.keys_timeout);
    auto ended =
        co_await (lookup(cfg, b64key) || timer.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (ended.index() == 0)
        co_return std::get<0>(std::move(ended));
    meta_verdict late;
    late.detail = "meta: key lookup: no answer within keys-timeout";
    co_return late;
}

} // namespace

meta_verdict ask_meta(const config& cfg, std::string_view b64key) {
    // One step never waits longer than the whole exchange may take.
    config bounded = cfg;
    bounded.http_timeout = std::min(cfg.http_timeout, cfg.keys_timeout);
    asio::io_context io(1);
    meta_verdict verdict;
    verdict.detail = "meta: key lookup did not end";
    asio::co_spawn(io, lookup_within(bounded, b64key),
                   [&](std::exception_ptr error, meta_verdict result) {
                       if (!error)
                           verdict = std::move(result);
                   });
    io.run();
    return verdict;
}

} // namespace jobssh
