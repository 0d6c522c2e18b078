#include "known_endpoints.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <jobssh/common/default_token.hpp>
#include <jobssh/common/resolve.hpp>
#include <memory>

namespace jobssh {

namespace asio = boost::asio;
using asio::ip::tcp;

asio::awaitable<resolved> resolve_within(const std::string& host, std::uint16_t port,
                                         std::chrono::steady_clock::duration bound) {
    if (auto known = known_endpoints(host, port))
        co_return resolved{{}, *known};
    // Asio 1.81 runs getaddrinfo on a thread and cannot cancel one resolve, so racing it with
    // `||` would still wait for getaddrinfo: a timer is waited on instead, which the answer
    // cuts short, and an answer that comes too late is dropped. The state is shared with the
    // handler, which may run after this coroutine returned.
    struct answer {
        explicit answer(const asio::any_io_executor& executor)
            : resolver(executor)
            , timer(executor) {}
        tcp::resolver resolver;
        asio::steady_timer timer;
        resolved result;
        bool arrived = false;
    };
    auto state = std::make_shared<answer>(co_await asio::this_coro::executor);
    state->timer.expires_after(bound);
    state->resolver.async_resolve(
        host, std::to_string(port),
        [state](boost::system::error_code error, tcp::resolver::results_type endpoints) {
            state->result = {error, std::move(endpoints)};
            state->arrived = true;
            state->timer.cancel();
        });
    co_await state->timer.async_wait(default_token());
    if (!state->arrived)
        co_return resolved{asio::error::timed_out, {}};
    co_return state->result;
}

} // namespace jobssh
