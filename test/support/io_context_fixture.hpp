#pragma once

// The test's own io_context. A test that leaves work on it (a timer, a read, a coroutine that
// never ended) fails when the fixture goes: its destructor runs what is ready and checks that
// nothing is left (Boost.MySQL's test_common/io_context_fixture.hpp). Fixtures that need an
// io_context build on this one.

#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

namespace jobssh::testing {

struct io_context_fixture {
    boost::asio::io_context ctx;

    ~io_context_fixture() {
        ctx.poll();
        BOOST_TEST(ctx.stopped(), "work was left pending on the test's io_context");
    }
};

} // namespace jobssh::testing
