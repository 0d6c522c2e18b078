#pragma once

// Runs one coroutine to its end on the test's own io_context, with a bound so that a hang
// fails the test instead of the whole run, and checks that nothing was left pending.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <exception>
#include <optional>

namespace jobssh::testing {

template <typename T>
T run_coroutine(boost::asio::awaitable<T> task,
                std::chrono::seconds bound = std::chrono::seconds(60)) {
    boost::asio::io_context ctx;
    std::optional<T> result;
    std::exception_ptr error;
    bool done = false;
    boost::asio::co_spawn(ctx, std::move(task), [&](std::exception_ptr e, T value) {
        done = true;
        error = e;
        if (!e)
            result.emplace(std::move(value));
    });
    ctx.run_for(bound);
    BOOST_REQUIRE_MESSAGE(done, "the coroutine did not finish within its bound");
    ctx.poll();
    BOOST_TEST(ctx.stopped());
    if (error)
        std::rethrow_exception(error);
    return std::move(*result);
}

} // namespace jobssh::testing
