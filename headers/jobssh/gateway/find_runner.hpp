#pragma once

// Which runner has a job: the gateway asks every configured runner's worker API at once
// (docs/design.md, "Many runner hosts: the gateway"). The unchanged worker API is the only
// directory there is: the runner that answers 200 to GET /job/{id}/info has the job.

#include <boost/asio/awaitable.hpp>
#include <jobssh/api/runner.hpp>
#include <jobssh/common/config.hpp>
#include <jobssh/common/job_id.hpp>
#include <memory>
#include <optional>

namespace jobssh {

struct located_job {
    runner_address runner;
    job_info info;
    // The questions still out when the job was found: kept while the session runs, they go
    // on (each bounded by http-timeout) and are logged as they end, a runner that does not
    // answer in time as runner_unreachable and a second runner with the job as
    // job_on_two_runners. The last copy gone, those still out are cancelled and each logged
    // as runner_unreachable.
    std::shared_ptr<const void> rest;
};

// GET /job/{id}/info on every runner of [jobssh::gateway] runners at once, each bounded by
// http-timeout as a whole. Returns as soon as one runner answers that it has the job (job
// IDs are unique across runners; should two have one, the first answer wins); nullopt when
// every runner answered 404. Throws failure_error runner_unreachable when no runner has the
// job and at least one did not answer (it might be the one that has it). Each runner that
// did not answer gets its own syslog line.
boost::asio::awaitable<std::optional<located_job>> find_job_runner(const config& cfg, job_id job);

} // namespace jobssh
