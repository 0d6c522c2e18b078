// The HTTP client and the runner and meta clients on it, against a small Beast server that
// misbehaves on request, on its own io_context.
#define BOOST_TEST_MODULE http_client
#include "io_context_fixture.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <jobssh/api/http_client.hpp>
#include <jobssh/api/meta.hpp>
#include <jobssh/api/runner.hpp>
#include <jobssh/common/config.hpp>
#include <jobssh/common/failure.hpp>
#include <list>
#include <optional>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;
using namespace std::chrono_literals;
using namespace jobssh;
using jobssh::testing::io_context_fixture;

namespace {

// What the server does with every request it gets.
struct canned_answer {
    unsigned status = 200;
    std::string body;
    std::chrono::milliseconds delay{0}; // before answering
    bool silent = false;                // read the request, never answer
    std::string raw;                    // sent as is instead of an HTTP answer
};

canned_answer reply(unsigned status, std::string body) {
    canned_answer answer;
    answer.status = status;
    answer.body = std::move(body);
    return answer;
}

canned_answer silence() {
    canned_answer answer;
    answer.silent = true;
    return answer;
}

canned_answer raw_bytes(std::string bytes) {
    canned_answer answer;
    answer.raw = std::move(bytes);
    return answer;
}

class fake_server {
public:
    fake_server(asio::io_context& ctx, canned_answer answer)
        : acceptor_(ctx, {asio::ip::make_address("127.0.0.1"), 0})
        , answer_(std::move(answer)) {
        asio::co_spawn(ctx, accept_loop(), asio::detached);
    }

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    const std::vector<std::string>& requests() const { return requests_; }

    void stop() {
        boost::system::error_code ignored;
        acceptor_.close(ignored);
        for (auto& socket : sockets_)
            socket.close(ignored);
        for (auto& timer : timers_)
            timer.cancel();
    }

private:
    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, socket] =
                co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
            if (ec)
                co_return;
            sockets_.push_back(std::move(socket));
            asio::co_spawn(acceptor_.get_executor(), answer(sockets_.back()), asio::detached);
        }
    }

    asio::awaitable<void> answer(tcp::socket& socket) {
        boost::beast::flat_buffer buffer;
        http::request<http::string_body> request;
        auto [read_ec, n] =
            co_await http::async_read(socket, buffer, request, asio::as_tuple(asio::use_awaitable));
        if (read_ec)
            co_return;
        requests_.push_back(std::string(request.method_string()) + " " +
                            std::string(request.target()));
        auto& timer = timers_.emplace_back(socket.get_executor());
        timer.expires_after(answer_.silent ? std::chrono::milliseconds(60s) : answer_.delay);
        auto [timer_ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if (timer_ec || !socket.is_open())
            co_return;
        if (!answer_.raw.empty()) {
            co_await asio::async_write(socket, asio::buffer(answer_.raw),
                                       asio::as_tuple(asio::use_awaitable));
        } else {
            http::response<http::string_body> response{http::int_to_status(answer_.status), 11};
            response.set(http::field::content_type, "application/json");
            response.body() = answer_.body;
            response.prepare_payload();
            co_await http::async_write(socket, response, asio::as_tuple(asio::use_awaitable));
        }
        boost::system::error_code ignored;
        socket.shutdown(tcp::socket::shutdown_both, ignored);
        socket.close(ignored);
    }

    tcp::acceptor acceptor_;
    canned_answer answer_;
    std::list<tcp::socket> sockets_;
    std::list<asio::steady_timer> timers_;
    std::vector<std::string> requests_;
};

// Runs one client coroutine against the server to its end, then stops the server (the
// io_context_fixture checks that nothing was left pending).
template <class T>
T run(asio::io_context& ctx, fake_server& server, asio::awaitable<T> operation) {
    std::optional<T> result;
    std::exception_ptr error;
    asio::co_spawn(ctx, std::move(operation), [&](std::exception_ptr e, T value) {
        error = e;
        if (!e)
            result = std::move(value);
        server.stop();
    });
    ctx.run();
    if (error)
        std::rethrow_exception(error);
    return std::move(*result);
}

// How the request failed; fails the test with `answered` when it got an answer instead.
http_failure http_failure_of(asio::io_context& ctx, fake_server& server,
                             asio::awaitable<http_response> request, const char* answered) {
    try {
        run(ctx, server, std::move(request));
    } catch (const http_error& error) {
        return error.kind();
    }
    BOOST_FAIL(answered);
    throw std::logic_error("unreachable: BOOST_FAIL throws");
}

void run_void(asio::io_context& ctx, fake_server& server, asio::awaitable<void> operation) {
    std::exception_ptr error;
    asio::co_spawn(ctx, std::move(operation), [&](std::exception_ptr e) {
        error = e;
        server.stop();
    });
    ctx.run();
    if (error)
        std::rethrow_exception(error);
}

config config_for(const fake_server& server) {
    config cfg;
    cfg.runner_host = "127.0.0.1";
    cfg.runner_port = server.port();
    cfg.meta_api_origin = "http://127.0.0.1:" + std::to_string(server.port());
    cfg.http_timeout = 300ms;
    return cfg;
}

http_origin origin_of(const fake_server& server) {
    return http_origin{"127.0.0.1", server.port(), ""};
}

const std::string job_json = R"({"deadline": 1700000000, "manifest": "image: alpine/edge\n",
    "note": null, "owner_id": 1, "port": 22022, "status": "running", "task": 1, "tasks": 3,
    "username": "alice"})";

const std::string key_json = R"({"id": 7, "authorized": "2024-01-01T00:00:00+00:00",
    "comment": null, "fingerprint": "SHA256:abc", "key": "ssh-ed25519 AAAA",
    "owner": {"canonical_name": "~alice", "name": "alice"}})";

// The failure kind thrown by a coroutine, or nullopt when it did not throw one.
template <class F>
std::optional<failure> failure_of(F&& attempt) {
    try {
        attempt();
    } catch (const failure_error& error) {
        BOOST_TEST_MESSAGE("failure detail: " << error.what());
        return error.kind();
    }
    return std::nullopt;
}

// The failure_error a coroutine threw, its kind and detail; fails the test with `accepted`
// when it threw none.
template <class F>
std::pair<failure, std::string> failure_error_of(F&& attempt, const char* accepted) {
    try {
        attempt();
    } catch (const failure_error& error) {
        return {error.kind(), error.what()};
    }
    BOOST_FAIL(accepted);
    throw std::logic_error("unreachable: BOOST_FAIL throws");
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(plain_http, io_context_fixture)

BOOST_AUTO_TEST_CASE(an_answer_comes_back_with_its_status_and_body) {
    fake_server server(ctx, reply(201, "hello"));
    auto response = run(ctx, server, send_request(origin_of(server), {"POST", "/job/3/claim", 2s}));
    BOOST_TEST(response.status == 201u);
    BOOST_TEST(response.body == "hello");
    BOOST_TEST(server.requests() == std::vector<std::string>{"POST /job/3/claim"});
}

BOOST_AUTO_TEST_CASE(a_host_name_is_resolved) {
    fake_server server(ctx, reply(200, "by name"));
    auto response = run(
        ctx, server, send_request(http_origin{"localhost", server.port(), ""}, {"GET", "/", 2s}));
    BOOST_TEST(response.body == "by name");
}

BOOST_AUTO_TEST_CASE(a_server_that_never_answers_is_a_timeout) {
    fake_server server(ctx, silence());
    BOOST_TEST((http_failure_of(ctx, server, send_request(origin_of(server), {"GET", "/", 200ms}),
                                "a silent server gave an answer") == http_failure::timeout));
}

BOOST_AUTO_TEST_CASE(a_body_over_the_limit_is_a_bad_answer) {
    fake_server server(ctx, reply(200, std::string(1024 * 1024 + 1, 'x')));
    BOOST_TEST((http_failure_of(ctx, server, send_request(origin_of(server), {"GET", "/", 2s}),
                                "an oversized body was accepted") == http_failure::bad_answer));
}

BOOST_AUTO_TEST_CASE(a_body_at_the_limit_is_accepted) {
    fake_server server(ctx, reply(200, std::string(1024 * 1024, 'x')));
    auto response = run(ctx, server, send_request(origin_of(server), {"GET", "/", 5s}));
    BOOST_TEST(response.body.size() == 1024u * 1024u);
}

BOOST_AUTO_TEST_CASE(a_closed_port_is_unreachable) {
    std::uint16_t closed_port;
    {
        tcp::acceptor probe(ctx, {asio::ip::make_address("127.0.0.1"), 0});
        closed_port = probe.local_endpoint().port();
    }
    fake_server server(ctx, reply(200, ""));
    BOOST_TEST(
        (http_failure_of(ctx, server,
                         send_request(http_origin{"127.0.0.1", closed_port, ""}, {"GET", "/", 2s}),
                         "a closed port answered") == http_failure::unreachable));
}

BOOST_AUTO_TEST_CASE(something_that_is_not_http_is_a_bad_answer) {
    fake_server server(ctx, raw_bytes("SSH-2.0-OpenSSH_9.2\r\n\r\n"));
    BOOST_TEST((http_failure_of(ctx, server, send_request(origin_of(server), {"GET", "/", 2s}),
                                "garbage was taken for HTTP") == http_failure::bad_answer));
}

BOOST_AUTO_TEST_CASE(origins_are_split_into_host_port_and_prefix) {
    auto plain = parse_http_origin("http://meta.example.org");
    BOOST_TEST(plain.host == "meta.example.org");
    BOOST_TEST(plain.port == 80);
    BOOST_TEST(plain.path_prefix == "");
    auto full = parse_http_origin("http://127.0.0.1:5001/meta/");
    BOOST_TEST(full.host == "127.0.0.1");
    BOOST_TEST(full.port == 5001);
    BOOST_TEST(full.path_prefix == "/meta");
    auto v6 = parse_http_origin("http://[::1]:8080");
    BOOST_TEST(v6.host == "::1");
    BOOST_TEST(v6.port == 8080);
    BOOST_CHECK_THROW(parse_http_origin("https://meta.example.org"), std::invalid_argument);
    BOOST_CHECK_THROW(parse_http_origin("http://host:99999"), std::invalid_argument);
    BOOST_CHECK_THROW(parse_http_origin("http://:80"), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(runner_api, io_context_fixture)

BOOST_AUTO_TEST_CASE(job_info_is_decoded_with_every_field) {
    fake_server server(ctx, reply(200, job_json));
    auto cfg = config_for(server);
    auto info = run(ctx, server, fetch_job_info(cfg, 4211));
    BOOST_REQUIRE(info.has_value());
    BOOST_TEST(info->deadline.time_since_epoch().count() == 1700000000);
    BOOST_TEST(info->manifest == "image: alpine/edge\n");
    BOOST_TEST(!info->note.has_value());
    BOOST_TEST(info->port == 22022);
    BOOST_TEST(info->status == job_status::running);
    BOOST_TEST(info->task == 1);
    BOOST_TEST(info->tasks == 3);
    BOOST_TEST(info->username == "alice");
    BOOST_TEST(info->ssh_user == "build");
    BOOST_TEST(info->ssh_host == "localhost");
    BOOST_TEST(info->host_keys.empty());
    BOOST_TEST(server.requests() == std::vector<std::string>{"GET /job/4211/info"});
}

BOOST_AUTO_TEST_CASE(optional_runner_fields_are_read_when_sent) {
    std::string body = job_json;
    body.insert(body.rfind('}'), R"(, "host_keys": ["ssh-ed25519 AAAAC3"], "ssh_user": "ci",
        "ssh_host": "10.0.0.2", "note": "nightly")");
    body.erase(body.find(R"("note": null,)"), std::string_view(R"("note": null,)").size());
    fake_server server(ctx, reply(200, body));
    auto cfg = config_for(server);
    auto info = run(ctx, server, fetch_job_info(cfg, 1));
    BOOST_REQUIRE(info.has_value());
    BOOST_TEST(info->host_keys == std::vector<std::string>{"ssh-ed25519 AAAAC3"});
    BOOST_TEST(info->ssh_user == "ci");
    BOOST_TEST(info->ssh_host == "10.0.0.2");
    BOOST_TEST(info->note.value_or("") == "nightly");
}

BOOST_AUTO_TEST_CASE(an_unknown_job_is_no_info) {
    fake_server server(ctx, reply(404, "404 not found"));
    auto cfg = config_for(server);
    BOOST_TEST(!run(ctx, server, fetch_job_info(cfg, 99)).has_value());
}

BOOST_AUTO_TEST_CASE(malformed_json_from_the_runner_is_a_runner_failure) {
    fake_server server(ctx, reply(200, R"({"deadline": 17)"));
    auto cfg = config_for(server);
    auto kind = failure_of([&] { run(ctx, server, fetch_job_info(cfg, 1)); });
    BOOST_TEST((kind == failure::runner_unreachable));
}

BOOST_AUTO_TEST_CASE(a_mistyped_field_is_named_in_the_error) {
    std::string body = job_json;
    body.replace(body.find(R"("task": 1)"), 9, R"("task": "one")");
    fake_server server(ctx, reply(200, body));
    auto cfg = config_for(server);
    auto [kind, detail] = failure_error_of([&] { run(ctx, server, fetch_job_info(cfg, 1)); },
                                           "a string task was accepted");
    BOOST_TEST((kind == failure::runner_unreachable));
    BOOST_TEST(detail.find(R"("task" is not an integer)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_missing_field_is_named_in_the_error) {
    std::string body = job_json;
    body.erase(body.find(R"("username": "alice")"),
               std::string_view(R"("username": "alice")").size());
    body.erase(body.rfind(','), 1);
    fake_server server(ctx, reply(200, body));
    auto cfg = config_for(server);
    auto detail = failure_error_of([&] { run(ctx, server, fetch_job_info(cfg, 1)); },
                                   "info without a username was accepted")
                      .second;
    BOOST_TEST(detail.find(R"("username" is missing)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_silent_runner_is_a_runner_timeout_not_an_authentication_failure) {
    fake_server server(ctx, silence());
    auto cfg = config_for(server);
    auto kind = failure_of([&] { run(ctx, server, fetch_job_info(cfg, 1)); });
    BOOST_TEST((kind == failure::runner_timeout));
}

BOOST_AUTO_TEST_CASE(a_runner_error_status_is_a_runner_failure) {
    fake_server server(ctx, reply(500, "oops"));
    auto cfg = config_for(server);
    auto kind = failure_of([&] { run(ctx, server, fetch_job_info(cfg, 1)); });
    BOOST_TEST((kind == failure::runner_unreachable));
}

BOOST_AUTO_TEST_CASE(claim_and_terminate_are_posts_to_the_job) {
    fake_server server(ctx, reply(200, "claimed"));
    auto cfg = config_for(server);
    run_void(ctx, server, [&]() -> asio::awaitable<void> {
        co_await claim_job(cfg, 5);
        co_await terminate_job(cfg, 5);
    }());
    BOOST_TEST(server.requests() ==
               (std::vector<std::string>{"POST /job/5/claim", "POST /job/5/terminate"}));
}

BOOST_AUTO_TEST_CASE(a_job_is_finished_when_its_tasks_are_done_or_it_stopped_running) {
    job_info info;
    info.status = job_status::running;
    info.task = 1;
    info.tasks = 2;
    BOOST_TEST(!job_finished(info));
    info.task = 2;
    BOOST_TEST(job_finished(info));
    info.status = job_status::pending;
    info.task = 0;
    BOOST_TEST(!job_finished(info));
    info.status = job_status::queued;
    BOOST_TEST(!job_finished(info));
    for (auto status :
         {job_status::success, job_status::failed, job_status::timeout, job_status::cancelled}) {
        info.status = status;
        BOOST_TEST(job_finished(info));
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(meta_api, io_context_fixture)

BOOST_AUTO_TEST_CASE(a_known_key_is_decoded_with_its_owner) {
    fake_server server(ctx, reply(200, key_json));
    auto cfg = config_for(server);
    auto key = run(ctx, server, lookup_key(cfg, "AAAAC3Nz+/k="));
    BOOST_REQUIRE(key.has_value());
    BOOST_TEST(key->id == 7);
    BOOST_TEST(key->fingerprint == "SHA256:abc");
    BOOST_TEST(key->comment == "");
    BOOST_TEST(key->owner.name == "alice");
    BOOST_TEST(key->owner.canonical_name == "~alice");
    BOOST_TEST(server.requests() == std::vector<std::string>{"GET /api/ssh-key/AAAAC3Nz+/k="});
}

BOOST_AUTO_TEST_CASE(an_unknown_key_is_no_key) {
    fake_server server(ctx, reply(404, "{}"));
    auto cfg = config_for(server);
    BOOST_TEST(!run(ctx, server, lookup_key(cfg, "AAAA")).has_value());
}

BOOST_AUTO_TEST_CASE(a_key_that_is_not_base64_is_not_asked_about) {
    fake_server server(ctx, reply(200, key_json));
    auto cfg = config_for(server);
    BOOST_TEST(!run(ctx, server, lookup_key(cfg, "AAAA HTTP/1.1\r\nX: y")).has_value());
    BOOST_TEST(server.requests().empty());
}

BOOST_AUTO_TEST_CASE(every_other_meta_failure_is_temporary) {
    std::vector<canned_answer> answers{
        reply(500, "internal server error"),
        reply(200, "{not json"),
        reply(200, R"({"id": 7, "fingerprint": "SHA256:abc", "key": "k", "owner": {"name": 3}})"),
        silence(),
        raw_bytes("garbage\r\n\r\n"),
    };
    for (const canned_answer& answer : answers) {
        io_context_fixture fresh; // an io_context per answer, checked as each one ends
        fake_server server(fresh.ctx, answer);
        auto cfg = config_for(server);
        auto kind = failure_of([&] { run(fresh.ctx, server, lookup_key(cfg, "AAAA")); });
        BOOST_TEST((kind == failure::temporary), "answer " << answer.status << " " << answer.body);
    }
}

BOOST_AUTO_TEST_CASE(meta_that_is_down_is_temporary) {
    std::uint16_t closed_port;
    {
        tcp::acceptor probe(ctx, {asio::ip::make_address("127.0.0.1"), 0});
        closed_port = probe.local_endpoint().port();
    }
    fake_server server(ctx, reply(200, ""));
    config cfg = config_for(server);
    cfg.meta_api_origin = "http://127.0.0.1:" + std::to_string(closed_port);
    auto kind = failure_of([&] { run(ctx, server, lookup_key(cfg, "AAAA")); });
    BOOST_TEST((kind == failure::temporary));
}

BOOST_AUTO_TEST_SUITE_END()
