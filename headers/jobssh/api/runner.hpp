#pragma once

// The runner API of the builds.sr.ht worker (docs/design.md, "The runner API").

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <jobssh/api/decoded.hpp>
#include <jobssh/common/job_id.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobssh {

struct config;

// The runner's words for where a job is; any other word is a malformed answer.
enum class job_status { pending, queued, running, success, failed, timeout, cancelled };

std::string_view to_string(job_status status);
std::optional<job_status> parse_job_status(std::string_view word);
std::ostream& operator<<(std::ostream& out, job_status status);

struct job_info {
    std::chrono::sys_seconds deadline{}; // when the VM is killed; the epoch when not known
    std::string manifest;
    std::optional<std::string> note;
    std::int64_t owner_id = 0;
    std::uint16_t port = 0; // the VM's SSH port on the runner host
    job_status status = job_status::pending;
    std::int64_t task = 0;
    std::int64_t tasks = 0;
    std::string username;
    // Optional fields a runner may send (the real worker does not).
    std::vector<std::string> host_keys; // "<type> <base64>", pinned when present
    std::string ssh_user = "build";
    std::string ssh_host = "localhost";
    std::vector<std::string> viewers; // who may watch and replay besides the owner
};

// Decodes the body of a 200 answer to GET /job/{id}/info: the job, or what is wrong with the
// body (not JSON, a field missing or of the wrong type, a status word we do not know).
decoded<job_info> decode_job_info(std::string_view body);

// The job is done stepping: every task ran, or it is no longer running.
bool job_finished(const job_info& info);

// GET /job/{id}/info. nullopt on 404. Throws failure_error: runner_unreachable when the
// runner cannot be reached or answers badly (another status, a malformed body), temporary
// on timeout.
boost::asio::awaitable<std::optional<job_info>> fetch_job_info(const config& cfg, job_id job);

// POST /job/{id}/claim and /job/{id}/terminate. Throw failure_error like fetch_job_info.
boost::asio::awaitable<void> claim_job(const config& cfg, job_id job);
boost::asio::awaitable<void> terminate_job(const config& cfg, job_id job);

} // namespace jobssh
