#include "json_fields.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value_to.hpp>
#include <jobssh/api/http_client.hpp>
#include <jobssh/api/runner.hpp>
#include <jobssh/common/config.hpp>
#include <jobssh/common/failure.hpp>

namespace jobssh {

namespace asio = boost::asio;
namespace json = boost::json;

job_info tag_invoke(json::value_to_tag<job_info>, const json::value& value) {
    using namespace json_fields;
    const json::object& object = as_object(value, "the job info");
    job_info info;
    info.deadline = integer(object, "deadline");
    info.manifest = string(object, "manifest");
    info.note = nullable_string(object, "note");
    info.owner_id = integer(object, "owner_id");
    std::int64_t port = integer(object, "port");
    if (port < 0 || port > 65535)
        throw field_error("field \"port\" is not a TCP port: " + std::to_string(port));
    info.port = static_cast<std::uint16_t>(port);
    info.status = string(object, "status");
    info.task = integer(object, "task");
    info.tasks = integer(object, "tasks");
    info.username = string(object, "username");
    if (const json::value* keys = object.if_contains("host_keys"); keys && !keys->is_null()) {
        if (!keys->is_array())
            throw field_error("field \"host_keys\" is not a list");
        for (const json::value& key : keys->get_array())
            info.host_keys.push_back(string(key, "host_keys[]"));
    }
    if (const json::value* viewers = object.if_contains("viewers");
        viewers && !viewers->is_null()) {
        if (!viewers->is_array())
            throw field_error("field \"viewers\" is not a list");
        for (const json::value& viewer : viewers->get_array())
            info.viewers.push_back(string(viewer, "viewers[]"));
    }
    if (auto user = nullable_string(object, "ssh_user"))
        info.ssh_user = *user;
    if (auto host = nullable_string(object, "ssh_host"))
        info.ssh_host = *host;
    return info;
}

job_info decode_job_info(std::string_view body) {
    return json::value_to<job_info>(json_fields::parse(body));
}

bool job_finished(const job_info& info) {
    // pending and queued jobs have not started yet: a tail waits for them.
    if (info.status == "pending" || info.status == "queued")
        return false;
    if (info.status != "running")
        return true;
    // A job that keeps its VM for a shell stays `running` after its last task.
    return info.task >= info.tasks;
}

namespace {

// The runner's HTTP failures, in the words of runner.hpp: timeouts are temporary,
// everything else means the runner is not there for us.
[[noreturn]] void throw_runner_failure(const http_error& error) {
    failure kind =
        error.kind() == http_failure::timeout ? failure::temporary : failure::runner_unreachable;
    throw failure_error(kind, std::string("runner: ") + error.what());
}

asio::awaitable<http_response> ask_runner(const config& cfg, std::string method,
                                          std::string target) {
    http_origin origin{cfg.runner_host, cfg.runner_port, ""};
    http_request request{std::move(method), std::move(target), cfg.http_timeout};
    try {
        co_return co_await send_request(origin, request);
    } catch (const http_error& error) {
        throw_runner_failure(error);
    }
}

asio::awaitable<void> post_to_job(const config& cfg, job_id job, std::string_view action) {
    std::string target = "/job/" + std::to_string(job) + "/" + std::string(action);
    http_response response = co_await ask_runner(cfg, "POST", target);
    if (response.status == 404)
        throw failure_error(failure::no_such_job, "runner: POST " + target + ": 404");
    if (response.status != 200)
        throw failure_error(failure::runner_unreachable, "runner: POST " + target + ": status " +
                                                             std::to_string(response.status));
}

} // namespace

asio::awaitable<std::optional<job_info>> fetch_job_info(const config& cfg, job_id job) {
    std::string target = "/job/" + std::to_string(job) + "/info";
    http_response response = co_await ask_runner(cfg, "GET", target);
    if (response.status == 404)
        co_return std::nullopt;
    if (response.status != 200)
        throw failure_error(failure::runner_unreachable, "runner: GET " + target + ": status " +
                                                             std::to_string(response.status));
    try {
        co_return decode_job_info(response.body);
    } catch (const json_fields::field_error& error) {
        throw failure_error(failure::runner_unreachable,
                            "runner: GET " + target + ": " + error.what());
    }
}

asio::awaitable<void> claim_job(const config& cfg, job_id job) {
    co_await post_to_job(cfg, job, "claim");
}

asio::awaitable<void> terminate_job(const config& cfg, job_id job) {
    co_await post_to_job(cfg, job, "terminate");
}

} // namespace jobssh
