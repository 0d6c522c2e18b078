#pragma once

// A small HTTP/1.1 client for the runner and meta APIs: one request per connection, every
// step (resolve, connect, write, read) bounded by [jobssh] http-timeout, bodies capped.
// Beast stays inside http_client.cpp.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace jobssh {

// Where requests go: parsed from "http://host[:port][/prefix]".
struct http_origin {
    std::string host;
    std::uint16_t port = 80;
    std::string path_prefix; // "" or "/prefix", never ending in '/'
};

// Throws std::invalid_argument for anything that is not a plain http:// origin.
http_origin parse_http_origin(std::string_view origin);

struct http_request {
    std::string method = "GET"; // "GET" or "POST"
    std::string target;         // "/job/4211/info", appended to the origin's prefix
    std::chrono::milliseconds timeout{5000};
    std::size_t body_limit = 1024 * 1024;
};

struct http_response {
    unsigned status = 0;
    std::string content_type;
    std::string body;
};

// How a request failed; runner.cpp and meta.cpp map these to failure kinds.
enum class http_failure {
    unreachable, // refused, no route, name not resolved, connection dropped before an answer
    timeout,     // a step took longer than the request's timeout
    bad_answer,  // not HTTP, or a body over the limit
};

class http_error : public std::runtime_error {
public:
    http_error(http_failure kind, const std::string& detail)
        : std::runtime_error(detail)
        , kind_(kind) {}
    http_failure kind() const noexcept { return kind_; }

private:
    http_failure kind_;
};

// Sends one request and reads the whole answer, whatever its status. Throws http_error.
boost::asio::awaitable<http_response> send_request(const http_origin& origin,
                                                   const http_request& request);

} // namespace jobssh
