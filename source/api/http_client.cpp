#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <charconv>
#include <jobssh/api/http_client.hpp>
#include <jobssh/common/default_token.hpp>
#include <jobssh/common/resolve.hpp>
#include <variant>

namespace jobssh {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

http_origin parse_http_origin(std::string_view origin) {
    constexpr std::string_view scheme = "http://";
    if (!origin.starts_with(scheme))
        throw std::invalid_argument("not an http:// origin: " + std::string(origin));
    std::string_view rest = origin.substr(scheme.size());
    http_origin parsed;
    auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    if (slash != std::string_view::npos) {
        parsed.path_prefix = std::string(rest.substr(slash));
        while (parsed.path_prefix.ends_with('/'))
            parsed.path_prefix.pop_back();
    }
    // "[::1]:8080", "host:8080", "host"
    std::string_view port_text;
    if (authority.starts_with('[')) {
        auto close = authority.find(']');
        if (close == std::string_view::npos)
            throw std::invalid_argument("unbalanced '[' in origin: " + std::string(origin));
        parsed.host = std::string(authority.substr(1, close - 1));
        std::string_view after = authority.substr(close + 1);
        if (after.starts_with(':'))
            port_text = after.substr(1);
        else if (!after.empty())
            throw std::invalid_argument("bad origin: " + std::string(origin));
    } else {
        auto colon = authority.rfind(':');
        parsed.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos)
            port_text = authority.substr(colon + 1);
    }
    if (parsed.host.empty())
        throw std::invalid_argument("no host in origin: " + std::string(origin));
    if (!port_text.empty()) {
        unsigned port = 0;
        auto [end, ec] =
            std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 ||
            port > 65535)
            throw std::invalid_argument("bad port in origin: " + std::string(origin));
        parsed.port = static_cast<std::uint16_t>(port);
    }
    return parsed;
}

namespace {

std::string describe(const http_origin& origin, const http_request& request) {
    return request.method + " http://" + origin.host + ":" + std::to_string(origin.port) +
           origin.path_prefix + request.target;
}

// Errors from connect/write/read, sorted into what the callers tell apart.
http_failure classify(const beast::error_code& ec) {
    if (ec == beast::error::timeout)
        return http_failure::timeout;
    if (ec == asio::error::connection_refused || ec == asio::error::host_unreachable ||
        ec == asio::error::network_unreachable || ec == asio::error::host_not_found ||
        ec == asio::error::host_not_found_try_again || ec == asio::error::connection_reset ||
        ec == asio::error::connection_aborted || ec == asio::error::broken_pipe ||
        ec == asio::error::eof || ec == http::error::end_of_stream ||
        ec == http::error::partial_message)
        return http_failure::unreachable;
    return http_failure::bad_answer;
}

[[noreturn]] void fail(const beast::error_code& ec, const std::string& step,
                       const std::string& what) {
    throw http_error(classify(ec), what + ": " + step + ": " + ec.message());
}

asio::awaitable<tcp::resolver::results_type>
resolve(const http_origin& origin, std::chrono::milliseconds timeout, const std::string& what) {
    resolved host = co_await resolve_within(origin.host, origin.port, timeout);
    if (host.error == asio::error::timed_out)
        throw http_error(http_failure::timeout, what + ": resolving took too long");
    if (host.error)
        fail(host.error, "resolve", what);
    co_return host.endpoints;
}

} // namespace

asio::awaitable<http_response> send_request(const http_origin& origin,
                                            const http_request& request) {
    const std::string what = describe(origin, request);
    auto executor = co_await asio::this_coro::executor;
    auto endpoints = co_await resolve(origin, request.timeout, what);

    beast::tcp_stream stream(executor);
    stream.expires_after(request.timeout);
    auto [connect_ec, endpoint] = co_await stream.async_connect(endpoints, default_token());
    if (connect_ec)
        fail(connect_ec, "connect", what);

    http::request<http::empty_body> message{request.method == "POST" ? http::verb::post
                                                                     : http::verb::get,
                                            origin.path_prefix + request.target, 11};
    message.set(http::field::host, origin.host + ":" + std::to_string(origin.port));
    message.set(http::field::user_agent, "jobssh/" JOBSSH_VERSION);
    message.set(http::field::accept, "application/json, text/plain");
    message.set(http::field::connection, "close");
    message.prepare_payload();
    stream.expires_after(request.timeout);
    auto [write_ec, written] = co_await http::async_write(stream, message, default_token());
    if (write_ec)
        fail(write_ec, "write", what);

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(request.body_limit);
    stream.expires_after(request.timeout);
    auto [read_ec, read] = co_await http::async_read(stream, buffer, parser, default_token());
    if (read_ec)
        fail(read_ec, "read", what);

    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);

    auto& response = parser.get();
    http_response answer;
    answer.status = response.result_int();
    answer.content_type = std::string(response[http::field::content_type]);
    answer.body = std::move(response.body());
    co_return answer;
}

} // namespace jobssh
