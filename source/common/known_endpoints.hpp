#pragma once

// Private to the jobssh library: endpoints that need no resolver. Asio's asynchronous
// resolve starts a thread and reads nsswitch.conf, host.conf and /etc/hosts; an IP address
// needs none of that, and "localhost" names the loopback addresses (RFC 6761).

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace jobssh {

inline std::optional<boost::asio::ip::tcp::resolver::results_type>
known_endpoints(const std::string& host, std::uint16_t port) {
    namespace ip = boost::asio::ip;
    std::vector<ip::tcp::endpoint> endpoints;
    boost::system::error_code not_an_address;
    auto address = ip::make_address(host, not_an_address);
    if (!not_an_address)
        endpoints.emplace_back(address, port);
    else if (host == "localhost")
        endpoints = {ip::tcp::endpoint(ip::address_v4::loopback(), port),
                     ip::tcp::endpoint(ip::address_v6::loopback(), port)};
    else
        return std::nullopt;
    return ip::tcp::resolver::results_type::create(endpoints.begin(), endpoints.end(), host,
                                                   std::to_string(port));
}

} // namespace jobssh
