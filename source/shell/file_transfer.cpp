#include <algorithm>
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cstdint>
#include <jobssh/common/big_endian.hpp>
#include <jobssh/common/default_token.hpp>
#include <jobssh/shell/command.hpp>
#include <jobssh/shell/file_transfer.hpp>
#include <string>
#include <unistd.h>

namespace jobssh {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

// draft-ietf-secsh-filexfer-02, the version OpenSSH speaks.
constexpr unsigned char fxp_init = 1;
constexpr unsigned char fxp_version = 2;
constexpr unsigned char fxp_status = 101;
constexpr std::uint32_t fx_op_unsupported = 8;
// A request larger than this is not one a client sends first: not sftp, or not worth it.
constexpr std::uint32_t largest_request = 64 * 1024;
// The client gives up after its first refused request; a few more cost nothing.
constexpr int most_requests = 16;

std::string packet(unsigned char type, const std::string& payload) {
    std::string out;
    append_be32(out, static_cast<std::uint32_t>(payload.size() + 1));
    out += static_cast<char>(type);
    return out + payload;
}

// The answer to one request, empty when it is not sftp.
std::string sftp_answer(const std::string& request, std::string_view message) {
    std::string payload;
    if (static_cast<unsigned char>(request[0]) == fxp_init) {
        append_be32(payload, 3);
        return packet(fxp_version, payload);
    }
    if (request.size() < 5)
        return {};
    payload = request.substr(1, 4); // the request id
    append_be32(payload, fx_op_unsupported);
    append_be32(payload, static_cast<std::uint32_t>(message.size()));
    payload += message;
    append_be32(payload, 0); // no language tag
    return packet(fxp_status, payload);
}

asio::awaitable<void> answer_requests(asio::posix::stream_descriptor& in,
                                      asio::posix::stream_descriptor& out,
                                      std::string message) { // by value: a coroutine keeps it
    for (int answered = 0; answered < most_requests; ++answered) {
        std::array<unsigned char, 4> head{};
        auto [head_error, head_size] =
            co_await asio::async_read(in, asio::buffer(head), default_token());
        if (head_error)
            co_return;
        std::uint32_t length = read_be32({reinterpret_cast<const char*>(head.data()), head.size()});
        if (length == 0 || length > largest_request)
            co_return;
        std::string request(length, '\0');
        auto [body_error, body_size] =
            co_await asio::async_read(in, asio::buffer(request), default_token());
        if (body_error)
            co_return;
        std::string reply = sftp_answer(request, message);
        if (reply.empty())
            co_return;
        auto [write_error, written] =
            co_await asio::async_write(out, asio::buffer(reply), default_token());
        if (write_error)
            co_return;
    }
}

// "Copy files with tar:\n  ssh a\n  ssh b\n" → "Copy files with tar: ssh a; ssh b".
std::string one_line(std::string_view message) {
    std::string line;
    for (std::size_t at = 0; at < message.size();) {
        auto end = std::min(message.find('\n', at), message.size());
        auto text = message.substr(at, end - at);
        text.remove_prefix(std::min(text.find_first_not_of(' '), text.size()));
        if (!line.empty())
            line += line.ends_with(':') ? " " : "; ";
        line += text;
        at = end + 1;
    }
    return line;
}

asio::awaitable<void> give_up_after(std::chrono::milliseconds bound) {
    asio::steady_timer timer(co_await asio::this_coro::executor, bound);
    co_await timer.async_wait(default_token());
}

} // namespace

bool sftp_program(std::string_view word) {
    return word == "internal-sftp" || word.substr(word.find_last_of('/') + 1) == "sftp-server";
}

bool sftp_request(std::string_view original_command) {
    auto words = shlex_split(original_command);
    return words && !words->empty() && sftp_program(words->front());
}

void refuse_sftp(std::string_view message, std::chrono::milliseconds bound) {
    asio::io_context io;
    // Copies, so that closing them leaves our stdin and stdout to the rest of the session.
    int in_fd = ::dup(STDIN_FILENO);
    int out_fd = ::dup(STDOUT_FILENO);
    if (in_fd < 0 || out_fd < 0) {
        if (in_fd >= 0)
            ::close(in_fd);
        if (out_fd >= 0)
            ::close(out_fd);
        return;
    }
    asio::posix::stream_descriptor in(io, in_fd);
    asio::posix::stream_descriptor out(io, out_fd);
    asio::co_spawn(io, answer_requests(in, out, one_line(message)) || give_up_after(bound),
                   asio::detached);
    io.run();
}

} // namespace jobssh
