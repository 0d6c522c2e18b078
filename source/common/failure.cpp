#include <array>
#include <jobssh/common/config.hpp>
#include <jobssh/common/failure.hpp>

namespace jobssh {

namespace {

// In the order of the enum; traits() checks it.
constexpr std::array<failure_traits, 12> table{{
    {"usage", 64, log_level::info,
     "Usage: ssh ... connect <job ID>\n"
     "       ssh ... connect <job ID> [--] <command> [<argument>...]\n"
     "       ssh ... tail <job ID>\n",
     ""},
    {"bad_job_id", 65, log_level::info,
     "That is not a job ID: a job ID is a whole number, like 4211.\n", ""},
    {"no_such_job", 66, log_level::info, "No such job found.\n", ""},
    // sr.ht points at the page where keys are added.
    {"unknown_key", 77, log_level::auth,
     "We don't recognize your SSH key. Make sure you've added it to your account.\n", "/keys"},
    {"not_permitted", 77, log_level::auth, "You are not permitted to connect to this job.\n", ""},
    {"runner_unreachable", 69, log_level::error,
     "The build runner cannot be reached right now. Try again later.\n", ""},
    {"vm_unreachable", 69, log_level::info,
     "The job's build VM cannot be reached. It may have been terminated.\n", ""},
    {"vm_host_key", 69, log_level::info,
     "The job's build VM did not present the host key it was given, so we did not connect to "
     "it.\n",
     ""},
    {"runner_host_key", 69, log_level::error,
     "The build runner did not present the host key we know for it, so we did not connect to "
     "it.\n",
     ""},
    {"temporary", 75, log_level::error, "Temporary authentication failure. Try again later.\n", ""},
    {"config", 78, log_level::error, "This service is not configured correctly.\n", ""},
    {"internal", 70, log_level::error, "Something went wrong on our side.\n", ""},
}};

static_assert(table.size() == static_cast<std::size_t>(failure::internal) + 1);
static_assert(table[static_cast<std::size_t>(failure::usage)].exit_code == 64);
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
