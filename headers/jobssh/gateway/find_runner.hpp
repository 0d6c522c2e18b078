#pragma once

// Which runner has a job: the gateway asks every configured runner's worker API at once
// (DESIGN.md, "Many runner hosts: the gateway"). The unchanged worker API is the only
// directory there is: the runner that answers 200 to GET /job/{id}/info has the job.

#include <boost/asio/awaitable.hpp>
#include <jobssh/api/runner.hpp>
#include <jobssh/common/config.hpp>
#include <jobssh/common/job_id.hpp>
#include <optional>

namespace jobssh {

struct located_job {
    runner_address runner;
    job_info info;
};

// GET /job/{id}/info on every runner of [jobssh::gateway] runners at once, each bounded by
// http-timeout as a whole. The first runner (in the config's order) that has the job;
// nullopt when every runner answered 404. Throws failure_error runner_unreachable when no
// runner has the job and at least one did not answer (it might be the one that has it).
boost::asio::awaitable<std::optional<located_job>> find_job_runner(const config& cfg, job_id job);

} // namespace jobssh
