#pragma once

// The completion token of every wait whose error the caller decides on: the coroutine gets
// (error_code, results...) back instead of an exception (Asio's
// echo_server_with_as_tuple_default.cpp). Boost 1.81 has no deferred default to lean on.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace jobssh {

using default_token = boost::asio::as_tuple_t<boost::asio::use_awaitable_t<>>;

} // namespace jobssh
