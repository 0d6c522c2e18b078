#pragma once

// One shape for every API call, private to runner.cpp and meta.cpp: send, map the transport's
// failures, 404 is "not found", any other status but 200 is the API being unavailable, and
// a 200 answer is decoded into a result whose error is the API being unavailable too.

#include <boost/asio/awaitable.hpp>
#include <jobssh/api/decoded.hpp>
#include <jobssh/api/http_client.hpp>
#include <jobssh/common/failure.hpp>
#include <optional>
#include <string>
#include <utility>

namespace jobssh::api {

// How one API's failures map to failure kinds.
struct failure_kinds {
    failure unavailable; // refused, dropped, another status, a malformed answer
    failure timeout;
};

// Sends the request; the answer whatever its status. `what` ("runner: GET /job/1/info")
// begins the log detail of a failure.
inline boost::asio::awaitable<http_response> ask(const http_origin& origin,
                                                 const http_request& request, failure_kinds kinds,
                                                 const std::string& what) {
    try {
        co_return co_await send_request(origin, request);
    } catch (const http_error& error) {
        throw failure_error(error.kind() == http_failure::timeout ? kinds.timeout
                                                                  : kinds.unavailable,
                            what + ": " + error.what());
    }
}

// GET and decode: nullopt on 404, failure_error for everything but a good 200 answer.
template <class T>
boost::asio::awaitable<std::optional<T>> fetch(const http_origin& origin, http_request request,
                                               failure_kinds kinds, std::string what,
                                               decoded<T> (*decode)(std::string_view)) {
    http_response response = co_await ask(origin, request, kinds, what);
    if (response.status == 404)
        co_return std::nullopt;
    if (response.status != 200)
        throw failure_error(kinds.unavailable,
                            what + ": status " + std::to_string(response.status));
    decoded<T> answer = decode(response.body);
    if (!answer)
        throw failure_error(kinds.unavailable, what + ": " + answer.error);
    co_return std::move(*answer.value);
}

} // namespace jobssh::api
