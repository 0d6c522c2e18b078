#pragma once

// `tail <job>`: the job's logs from byte 0, followed until the job is finished.

#include <boost/asio/awaitable.hpp>
#include <jobssh/api/runner.hpp>
#include <jobssh/common/job_id.hpp>

namespace jobssh {

struct config;
class user_output;

struct tail_result {
    int exit_code = 1; // 0 when the job ended well, 1 otherwise
    job_info info;     // the job as the runner last described it
};

// The job ended well: `success`, or a job kept `running` for a shell after its last task
// (the runner does not report success until the shell's VM goes away).
bool job_succeeded(const job_info& info);

// Prints the job's logs to out as they grow, asking the runner every [jobssh] poll-interval
// whether the job is finished (job_finished); then prints what was written up to that
// moment and returns. `info` is the runner's latest answer. Throws user_hung_up when the
// reader goes away, failure_error when the runner stays unreachable or forgets the job.
boost::asio::awaitable<tail_result> tail_job(const config& cfg, job_id job, job_info info,
                                             user_output& out);

} // namespace jobssh
