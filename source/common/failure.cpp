#include <jobssh/common/config.hpp>
#include <jobssh/common/failure.hpp>

namespace jobssh {

int exit_code(failure kind) {
    switch (kind) {
    case failure::usage:
        return 64; // EX_USAGE
    case failure::bad_job_id:
        return 65; // EX_DATAERR
    case failure::no_such_job:
    case failure::nothing_to_watch:
    case failure::no_recording:
        return 66; // EX_NOINPUT
    case failure::unknown_key:
    case failure::not_permitted:
        return 77; // EX_NOPERM
    case failure::runner_unreachable:
    case failure::vm_unreachable:
    case failure::vm_host_key:
        return 69; // EX_UNAVAILABLE
    case failure::temporary:
        return 75; // EX_TEMPFAIL
    case failure::config:
        return 78; // EX_CONFIG
    case failure::internal:
        return 70; // EX_SOFTWARE
    }
    return 70;
}

namespace {

std::string what_went_wrong(failure kind, const config& cfg) {
    switch (kind) {
    case failure::usage:
        return "Usage: ssh ... connect <job ID>\n"
               "       ssh ... connect <job ID> [--] <command> [<argument>...]\n"
               "       ssh ... tail <job ID>\n"
               "       ssh ... watch <job ID> [<n>]\n"
               "       ssh ... replay <job ID> [<n>] [--speed <x>]\n";
    case failure::bad_job_id:
        return "That is not a job ID: a job ID is a whole number, like 4211.\n";
    case failure::no_such_job:
        return "No such job found.\n";
    case failure::unknown_key:
        // sr.ht points at the page where keys are added.
        return "We don't recognize your SSH key. Make sure you've added it to your account.\n" +
               cfg.meta_origin + "/keys\n";
    case failure::not_permitted:
        return "You are not permitted to connect to this job.\n";
    case failure::nothing_to_watch:
        return "No session of this job is live to watch.\n";
    case failure::no_recording:
        return "No such recording of this job.\n";
    case failure::runner_unreachable:
        return "The build runner cannot be reached right now. Try again later.\n";
    case failure::vm_unreachable:
        return "The job's build VM cannot be reached. It may have been terminated.\n";
    case failure::vm_host_key:
        return "The job's build VM did not present the host key it was given, so we did not "
               "connect to it.\n";
    case failure::temporary:
        return "Temporary authentication failure. Try again later.\n";
    case failure::config:
        return "This service is not configured correctly.\n";
    case failure::internal:
        return "Something went wrong on our side.\n";
    }
    return "Something went wrong on our side.\n";
}

} // namespace

std::string user_message(failure kind, const config& cfg) {
    return what_went_wrong(kind, cfg) + "Please reach out to " + cfg.owner_name + " <" +
           cfg.owner_email + "> for support.\n";
}

} // namespace jobssh
