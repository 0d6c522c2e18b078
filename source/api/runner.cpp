#include "fetch.hpp"
#include "json_fields.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value_to.hpp>
#include <jobssh/api/http_client.hpp>
#include <jobssh/api/runner.hpp>
#include <jobssh/common/config.hpp>
#include <jobssh/common/failure.hpp>
#include <ostream>

namespace jobssh {

namespace asio = boost::asio;
namespace json = boost::json;

job_info tag_invoke(json::value_to_tag<job_info>, const json::value& value) {
    using namespace json_fields;
    const json::object& object = as_object(value, "the job info");
    job_info info;
    info.deadline = std::chrono::sys_seconds(std::chrono::seconds(integer(object, "deadline")));
    info.manifest = string(object, "manifest");
    info.note = nullable_string(object, "note");
    info.owner_id = integer(object, "owner_id");
    std::int64_t port = integer(object, "port");
    if (port < 0 || port > 65535)
        throw field_error("field \"port\" is not a TCP port: " + std::to_string(port));
    info.port = static_cast<std::uint16_t>(port);
    std::string word = string(object, "status");
    auto status = parse_job_status(word);
    if (!status)
        throw field_error("field \"status\" is not a job status: " + word);
    info.status = *status;
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

namespace {

constexpr std::string_view status_words[] = {"pending", "queued",  "running",  "success",
                                             "failed",  "timeout", "cancelled"};

} // namespace

std::string_view to_string(job_status status) {
    return status_words[static_cast<std::size_t>(status)];
}

std::optional<job_status> parse_job_status(std::string_view word) {
    for (std::size_t at = 0; at < std::size(status_words); ++at)
        if (status_words[at] == word)
            return static_cast<job_status>(at);
    return std::nullopt;
}

std::ostream& operator<<(std::ostream& out, job_status status) {
    return out << to_string(status);
}

decoded<job_info> decode_job_info(std::string_view body) {
    return json_fields::decode<job_info>(body);
}

bool job_finished(const job_info& info) {
    // pending and queued jobs have not started yet: a tail waits for them.
    if (info.status == job_status::pending || info.status == job_status::queued)
        return false;
    if (info.status != job_status::running)
        return true;
    // A job that keeps its VM for a shell stays `running` after its last task.
    return info.task >= info.tasks;
}

namespace {

// A timeout may pass; everything else means the runner is not there for us.
constexpr api::failure_kinds runner_failures{failure::runner_unreachable, failure::runner_timeout};

http_origin runner_origin(const config& cfg) {
    return {cfg.runner_host, cfg.runner_port, ""};
}

asio::awaitable<void> post_to_job(const config& cfg, job_id job, std::string_view action) {
    std::string target = "/job/" + std::to_string(job) + "/" + std::string(action);
    std::string what = "runner: POST " + target;
    // Named first: GCC 12 miscompiles braced initializers in a co_await expression.
    http_origin origin = runner_origin(cfg);
    http_request request{"POST", target, cfg.http_timeout};
    http_response response = co_await api::ask(origin, request, runner_failures, what);
    if (response.status == 404)
        throw failure_error(failure::no_such_job, what + ": 404");
    if (response.status != 200)
        throw failure_error(failure::runner_unreachable,
                            what + ": status " + std::to_string(response.status));
}

} // namespace

asio::awaitable<std::optional<job_info>> fetch_job_info(const config& cfg, job_id job) {
    std::string target = "/job/" + std::to_string(job) + "/info";
    std::string what = "runner: GET " + target;
    http_origin origin = runner_origin(cfg);
    http_request request{"GET", target, cfg.http_timeout};
    co_return co_await api::fetch(origin, std::move(request), runner_failures, std::move(what),
                                  &decode_job_info);
}

asio::awaitable<void> claim_job(const config& cfg, job_id job) {
    co_await post_to_job(cfg, job, "claim");
}

asio::awaitable<void> terminate_job(const config& cfg, job_id job) {
    co_await post_to_job(cfg, job, "terminate");
}

} // namespace jobssh
