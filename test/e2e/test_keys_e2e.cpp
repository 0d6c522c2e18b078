// `authenticate = keys` the whole way: a real OpenSSH client offers its keys to the
// fixtures' front sshd, whose AuthorizedKeysCommand jobssh-keys asks the fake meta about
// each; jobssh-shell then runs with `--owner` (docs/design.md, "Where the key is checked").
#define BOOST_TEST_MODULE keys_e2e
#include "sandbox.hpp"
#include "sandbox_faults.hpp"
#include "sandbox_world.hpp"
#include "scratch_dir.hpp"
#include "tail_output.hpp"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

using namespace jobssh::testing;

namespace {

struct world {
    jobssh::testing::scratch_dir scratch;
    std::unique_ptr<sandbox> sb;

    world() {
        scratch.write("users.json",
                      R"({"users": [{"name": "alice", "id": 1}, {"name": "bob", "id": 2}]})");
        scratch.write("jobs.json", R"({"jobs": [
          {"id": 1, "owner": "alice", "owner_id": 1, "log": ["alice's log"],
           "tasks": [{"name": "build", "log": ["alice builds"]}], "pace_ms": 0}]})");
        sandbox_options options;
        options.jobs_file = scratch.path() / "jobs.json";
        options.users_file = scratch.path() / "users.json";
        options.vms = false;
        options.authenticate = "keys";
        options.keys_timeout = 500ms;
        options.http_timeout = 1000ms;
        sb = std::make_unique<sandbox>(options);
    }
};

world& w() {
    static world instance;
    return instance;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

const std::string alice_tail = "alice's log\n";
const std::string temporary_failure = "Temporary authentication failure. Try again later.\n";

// ssh offering `first`'s key, then `user`'s, as an agent holding both would.
std::vector<std::string> ssh_offering(std::string_view first, std::string_view user,
                                      const std::string& command) {
    auto argv = w().sb->ssh_argv(user, command);
    argv.insert(std::find(argv.begin(), argv.end(), "-i"),
                {"-i", w().sb->private_key(first).string()});
    return argv;
}

std::size_t meta_asked_about(std::string_view user) {
    auto seen = w().sb->meta_requests();
    return static_cast<std::size_t>(
        std::count(seen.begin(), seen.end(), "GET /api/ssh-key/" + w().sb->public_key_b64(user)));
}

run_result shell_with_owner(std::string_view user, std::string_view owner,
                            const std::string& command) {
    return sandbox::run({"env", "SSH_ORIGINAL_COMMAND=" + command,
                         (w().sb->dir() / "bin" / "jobssh-shell").string(), "--config",
                         w().sb->config_file().string(), "--owner", std::string(owner),
                         w().sb->public_key_b64(user)});
}

} // namespace

BOOST_AUTO_TEST_CASE(an_agent_whose_first_key_is_unknown_gets_in_with_its_second) {
    const auto strangers = meta_asked_about("stranger");
    const auto alices = meta_asked_about("alice");
    auto result = sandbox::run(ssh_offering("stranger", "alice", "tail 1"));
    BOOST_TEST(result.exit_code == 0, result.err);
    BOOST_TEST(lines_of(result.out, {"build"}) == alice_tail);
    BOOST_TEST(lines_of(result.out, {"build"}, "build") == "alice builds\n");
    // meta was asked about both keys the client offered.
    BOOST_TEST(meta_asked_about("stranger") > strangers);
    BOOST_TEST(meta_asked_about("alice") > alices);
}

BOOST_AUTO_TEST_CASE(a_stranger_alone_is_refused_by_sshd_itself) {
    auto result = sandbox::run(w().sb->ssh_argv("stranger", "tail 1"));
    BOOST_TEST(result.exit_code == 255);
    BOOST_TEST(contains(result.err, "Permission denied (publickey)"), result.err);
    BOOST_TEST(result.out == "");
}

BOOST_AUTO_TEST_CASE(the_owner_named_by_jobssh_keys_is_still_checked_against_the_job) {
    auto bob = sandbox::run(w().sb->ssh_argv("bob", "tail 1"));
    BOOST_TEST(bob.exit_code == 77);
    BOOST_TEST(bob.err == "You are not permitted to connect to this job.\n" +
                              support_line(jobssh::load_config(w().sb->config_file())),
               bob.err);
    BOOST_TEST(bob.out == "");
}

BOOST_AUTO_TEST_CASE(jobssh_shell_told_the_owner_does_not_ask_meta_again) {
    // meta failing now would be a temporary failure for a jobssh-shell that asked it.
    w().sb->meta_fault(R"({"status": 500, "body": "oops"})");
    auto told = shell_with_owner("alice", "alice", "tail 1");
    w().sb->meta_fault("{}");
    BOOST_TEST(told.exit_code == 0, told.err);
    BOOST_TEST(lines_of(told.out, {"build"}) == alice_tail);
}

BOOST_AUTO_TEST_CASE(jobssh_shell_refuses_an_owner_that_is_not_a_user_name) {
    for (std::string owner : {"alice bob", "alice'", "$(id)", "-x", "", "Alice"}) {
        auto result = shell_with_owner("alice", owner, "tail 1");
        BOOST_TEST(result.exit_code == 64, owner);
        BOOST_TEST(result.out == "", owner);
    }
}

BOOST_AUTO_TEST_CASE(meta_slow_tells_the_user_of_a_temporary_failure_within_the_timeouts) {
    w().sb->meta_fault(R"({"delay_ms": 60000})");
    auto started = std::chrono::steady_clock::now();
    auto result = sandbox::run(w().sb->ssh_argv("alice", "tail 1"), std::nullopt, 120s);
    auto took = std::chrono::steady_clock::now() - started;
    w().sb->meta_fault("{}");
    BOOST_TEST(result.exit_code == 75, result.err);
    BOOST_TEST(result.err ==
                   temporary_failure + support_line(jobssh::load_config(w().sb->config_file())),
               result.err);
    BOOST_TEST(result.out == "");
    // keys-timeout (0.5 s, twice: sshd asks about the key, then about its signature) and
    // http-timeout (1 s) bound the wait, not meta's minute; the rest is ssh's handshake.
    BOOST_TEST(took < 30s);
}

BOOST_AUTO_TEST_CASE(meta_answering_garbage_never_lets_a_key_in) {
    const std::string mark = (w().scratch.path() / "owned").string();
    for (std::string owner :
         std::vector<std::string>{"alice\"", "alice bob", "alice,bob", "alice\nbob", "ALICE",
                                  "$(touch " + mark + ")", "\"; touch " + mark + "; \""}) {
        auto body = R"({"id": 1, "authorized": null, "comment": null, "fingerprint": "x", )"
                    R"("key": "x", "owner": {"canonical_name": "~x", "name": )" +
                    json_quoted(owner) + "}}";
        w().sb->meta_fault(json_answer(200, body));
        auto result = sandbox::run(w().sb->ssh_argv("alice", "tail 1"));
        w().sb->meta_fault("{}");
        // jobssh-keys let the key in without --owner; jobssh-shell, asking again, got a name
        // no job has: nothing of the job is shown, and the user is told why.
        BOOST_TEST(result.exit_code == 77, owner);
        BOOST_TEST(result.err == "You are not permitted to connect to this job.\n" +
                                     support_line(jobssh::load_config(w().sb->config_file())),
                   owner);
        BOOST_TEST(result.out == "", owner);
    }
    for (std::string body : {"{not json", "[]", R"({"id": 1})"}) {
        w().sb->meta_fault(json_answer(200, body));
        auto result = sandbox::run(w().sb->ssh_argv("alice", "tail 1"));
        w().sb->meta_fault("{}");
        BOOST_TEST(result.exit_code == 75, body);
        BOOST_TEST(result.err ==
                       temporary_failure + support_line(jobssh::load_config(w().sb->config_file())),
                   result.err);
        BOOST_TEST(result.out == "", body);
    }
    BOOST_TEST(!fs::exists(mark));
}

// Last: meta stays down for the rest of this world.
BOOST_AUTO_TEST_CASE(meta_down_tells_the_user_of_a_temporary_failure) {
    w().sb->stop_meta();
    auto result = sandbox::run(w().sb->ssh_argv("alice", "tail 1"));
    BOOST_TEST(result.exit_code == 75, result.err);
    BOOST_TEST(result.err ==
                   temporary_failure + support_line(jobssh::load_config(w().sb->config_file())),
               result.err);
    BOOST_TEST(result.out == "");
}
