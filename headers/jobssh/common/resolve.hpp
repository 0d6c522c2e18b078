#pragma once

// Name resolution with a bound, for the HTTP client and the VM probe.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <string>

namespace jobssh {

struct resolved {
    boost::system::error_code error; // asio::error::timed_out when the bound passed
    boost::asio::ip::tcp::resolver::results_type endpoints;
};

// host:port's addresses; IP addresses and "localhost" without asking the resolver.
boost::asio::awaitable<resolved> resolve_within(const std::string& host, std::uint16_t port,
                                                std::chrono::steady_clock::duration bound);

} // namespace jobssh
