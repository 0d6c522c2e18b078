#include <array>
#include <jobssh/common/config.hpp>
#include <jobssh/common/failure.hpp>

namespace jobssh {

namespace {

// In the order of the enum; traits() checks it. The rows read alike on purpose (one table of
// every failure: `duplicates` lists their shape).
#define JOBSSH_USAGE                                                                               \
    "Usage: ssh ... connect <job ID>\n"                                                            \
    "       ssh ... connect <job ID> [--] <command> [<argument>...]\n"                             \
    "       ssh ... tail <job ID>\n"                                                               \
    "       ssh ... watch <job ID> [<n>]\n"                                                        \
    "       ssh ... replay <job ID> [<n>] [--speed <x>]\n"                                         \
    "For a shell on the VM, ask ssh for a terminal: ssh -t ... connect <job ID>\n"

constexpr std::array<failure_traits, 21> table{{
    {"usage", 64, log_level::info, JOBSSH_USAGE, ""},
    {"usage", 64, log_level::info,
     "There is no command after --: put the command to run after it, or leave out -- for a "
     "shell.\n" JOBSSH_USAGE,
     ""},
    // sshd hands a forced command scp's and sftp's requests like any other command.
    {"file_transfer", 64, log_level::info,
     "scp, sftp and rsync cannot reach build VMs. Copy files with tar or cat instead:\n"
     "  ssh ... connect <job ID> -- tar c <path> > files.tar\n"
     "  ssh ... connect <job ID> -- 'tar x' < files.tar\n",
     ""},
    {"bad_job_id", 65, log_level::info,
     "That is not a job ID: a job ID is a whole number from 1 up, like 4211.\n", ""},
    {"no_such_job", 66, log_level::info, "No such job found.\n", ""},
    // sr.ht points at the page where keys are added.
    {"unknown_key", 77, log_level::auth,
     "We don't recognize your SSH key. Make sure you've added it to your account.\n", "/keys"},
    {"not_permitted", 77, log_level::auth, "You are not permitted to connect to this job.\n", ""},
    {"not_permitted", 77, log_level::auth,
     "You are not permitted to watch or replay this job's sessions.\n", ""},
    {"runner_unreachable", 69, log_level::error,
     "The build runner cannot be reached right now. Try again later.\n", ""},
    {"vm_unreachable", 69, log_level::info,
     "The job's build VM cannot be reached. It may have been terminated.\n", ""},
    {"no_vm", 69, log_level::info, "This job has no build VM to connect to.\n", ""},
    {"vm_gone", 69, log_level::info, "The job's build VM is gone: it is no longer running.\n", ""},
    {"vm_host_key", 69, log_level::info,
     "The job's build VM did not present the host key it was given, so we did not connect to "
     "it.\n",
     ""},
    {"nothing_to_watch", 66, log_level::info, "No session of this job is live to watch.\n", ""},
    {"no_recording", 66, log_level::info, "No such recording of this job.\n", ""},
    // The runner host's key is not one the VM trusts: the operator's to fix.
    {"vm_login", 69, log_level::error, "The job's build VM did not let us log in to it.\n", ""},
    {"runner_host_key", 69, log_level::error,
     "The build runner did not present the host key we know for it, so we did not connect to "
     "it.\n",
     ""},
    // Not an authentication failure (which a slow runner was called once): say what failed.
    {"runner_timeout", 75, log_level::error,
     "The build runner did not answer in time. Try again later.\n", ""},
    {"temporary", 75, log_level::error, "Temporary authentication failure. Try again later.\n", ""},
    {"config", 78, log_level::error, "This service is not configured correctly.\n", ""},
    {"internal", 70, log_level::error, "Something went wrong on our side.\n", ""},
}};

static_assert(table.size() == static_cast<std::size_t>(failure::internal) + 1);
#undef JOBSSH_USAGE

static_assert(table[static_cast<std::size_t>(failure::usage)].exit_code == 64);
static_assert(table[static_cast<std::size_t>(failure::empty_command)].exit_code == 64);
static_assert(table[static_cast<std::size_t>(failure::not_permitted_view)].exit_code == 77);
static_assert(table[static_cast<std::size_t>(failure::file_transfer)].exit_code == 64);
static_assert(table[static_cast<std::size_t>(failure::runner_timeout)].exit_code == 75);
static_assert(table[static_cast<std::size_t>(failure::temporary)].exit_code == 75);
static_assert(table[static_cast<std::size_t>(failure::internal)].exit_code == 70);

} // namespace

const failure_traits& traits(failure kind) {
    auto at = static_cast<std::size_t>(kind);
    return at < table.size() ? table[at] : table.back();
}

std::string user_message(failure kind, const config& cfg) {
    const failure_traits& row = traits(kind);
    std::string text(row.message);
    if (!row.meta_page.empty())
        text += cfg.meta_origin + std::string(row.meta_page) + "\n";
    return text + "Please reach out to " + cfg.owner_name + " <" + cfg.owner_email +
           "> for support.\n";
}

} // namespace jobssh
