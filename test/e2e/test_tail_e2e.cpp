// `ssh builds@… tail N` the whole way: a real OpenSSH client, the fixtures' front sshd with
// jobssh-keys as its AuthorizedKeysCommand, jobssh-shell, the fake runner and meta.
#define BOOST_TEST_MODULE tail_e2e
#include "resilience_helpers.hpp"
#include "sandbox_world.hpp"
#include "tail_output.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>

using namespace jobssh::testing;

namespace {

const char* const jobs_json = R"({"jobs": [
  {"id": 1, "owner": "bob", "owner_id": 2, "log": ["bob's private log"],
   "tasks": [{"name": "build", "log": ["bob builds"]}], "pace_ms": 0}]})";

// The 2019 design, kept by `authenticate = shell`: every key gets in and jobssh-shell tells a
// stranger to add it. test_keys_e2e covers the default, `keys`.
JOBSSH_MODULE_WORLD(sandbox_world, jobs_json, alice_and_bob, [](sandbox_options& options) {
    options.vms = false;
    options.authenticate = "shell";
});

// `command` run over ssh as `user`, to its end.
run_result over_ssh(const std::string& user, const std::string& command) {
    return sandbox::run(box().ssh_argv(user, command));
}

// A job that writes its logs while the user watches: a line every 150 ms.
std::string live_job(int id, const std::string& result) {
    return R"({"id": )" + std::to_string(id) +
           R"(, "owner": "alice", "owner_id": 1, "pace_ms": 150, "result": ")" + result + R"(",
      "log": ["booting", "cloning ✓", "sending tasks"],
      "tasks": [{"name": "build", "log": ["+ make", "cc -o hello hello.c", "Héllo wörld"]},
                {"name": "test", "log": ["+ make check", "PASS: greets"]}]})";
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::string lines_of(const std::string& output, const std::string& task = "") {
    return jobssh::testing::lines_of(output, {"build", "test"}, task);
}

// The cases below read alike on purpose (ssh, then the exit code and what was printed): each
// is one user's session whole; `duplicates` lists their shape.

} // namespace

BOOST_AUTO_TEST_CASE(tail_over_ssh_shows_a_live_job_from_its_first_line_to_its_last_and_exits_0) {
    auto& w = world();
    std::int64_t job = w.box->add_job(live_job(10, "success"));
    auto result = over_ssh("alice", "tail " + std::to_string(job));
    BOOST_TEST(result.exit_code == 0);
    BOOST_TEST(lines_of(result.out) == "booting\ncloning ✓\nsending tasks\n");
    BOOST_TEST(lines_of(result.out, "build") == "+ make\ncc -o hello hello.c\nHéllo wörld\n");
    BOOST_TEST(lines_of(result.out, "test") == "+ make check\nPASS: greets\n");
    BOOST_TEST(result.err == "");
}

BOOST_AUTO_TEST_CASE(tail_over_ssh_of_a_job_that_fails_exits_1_after_its_last_line) {
    auto& w = world();
    std::int64_t job = w.box->add_job(live_job(11, "failed"));
    auto result = over_ssh("alice", "tail " + std::to_string(job));
    BOOST_TEST(result.exit_code == 1);
    BOOST_TEST(lines_of(result.out, "test") == "+ make check\nPASS: greets\n");
}

BOOST_AUTO_TEST_CASE(tail_over_ssh_of_another_users_job_is_refused_with_the_message_and_77) {
    auto result = over_ssh("alice", "tail 1");
    BOOST_TEST(result.exit_code == 77);
    BOOST_TEST(contains(result.err, "You are not permitted to connect to this job.\n"));
    BOOST_TEST(contains(result.err, "for support.\n"));
    BOOST_TEST(!contains(result.out, "bob"));
}

BOOST_AUTO_TEST_CASE(tail_over_ssh_with_a_key_meta_does_not_know_is_told_to_add_it) {
    auto result = over_ssh("stranger", "tail 1");
    BOOST_TEST(result.exit_code == 77);
    BOOST_TEST(contains(result.err, "We don't recognize your SSH key."));
    BOOST_TEST(contains(result.err, "/keys\n"));
}

BOOST_AUTO_TEST_CASE(bob_can_tail_his_own_job_over_ssh) {
    auto result = over_ssh("bob", "tail 1");
    BOOST_TEST(result.exit_code == 0);
    BOOST_TEST(lines_of(result.out) == "bob's private log\n");
    BOOST_TEST(lines_of(result.out, "build") == "bob builds\n");
}

BOOST_AUTO_TEST_CASE(tail_over_ssh_on_a_terminal_shows_the_same_lines) {
    auto& w = world();
    std::int64_t job = w.box->add_job(live_job(12, "success"));
    auto argv = w.box->ssh_argv("alice", "tail " + std::to_string(job), true);
    // Force the pty although the test's stdin is no terminal.
    std::replace(argv.begin(), argv.end(), std::string("-t"), std::string("-tt"));
    auto result = sandbox::run(argv);
    BOOST_TEST(result.exit_code == 0);
    // The remote terminal turns each newline into CR LF.
    std::string out = result.out;
    out.erase(std::remove(out.begin(), out.end(), '\r'), out.end());
    BOOST_TEST(lines_of(out, "build") == "+ make\ncc -o hello hello.c\nHéllo wörld\n");
    BOOST_TEST(lines_of(out, "test") == "+ make check\nPASS: greets\n");
}

BOOST_AUTO_TEST_CASE(
    connect_to_a_running_job_tails_it_to_stderr_until_its_tasks_are_done_then_runs_the_command) {
    jobssh::testing::sandbox_world with_vms(R"({"jobs": []})", alice_and_bob);
    sandbox& sb = *with_vms.box;
    // A job that runs until the test ends its last task: connect tails it first.
    sb.add_job(R"({"id": 20, "owner": "alice", "owner_id": 1, "manual": true, "shell": true,
      "tasks": [{"name": "build", "log": []}]})");
    fs::create_directories(sb.buildlogs() / "20" / "build");
    std::ofstream(sb.buildlogs() / "20" / "log") << "booting\ncloning ✓\n";
    std::ofstream(sb.buildlogs() / "20" / "build" / "log") << "+ make\nHéllo wörld\n";
    jobssh::testing::started_program user(sb.ssh_argv("alice", "connect 20 -- echo from-the-vm"));
    // The tail asks the runner again and again while the job runs.
    BOOST_REQUIRE(jobssh::testing::eventually([&] {
        auto requests = sb.runner_requests();
        return std::count(requests.begin(), requests.end(), "GET /job/20/info") >= 3;
    }));
    sb.set_job(20, R"({"task": 1})");
    auto status = user.wait(90s);
    BOOST_REQUIRE(status.has_value());
    BOOST_TEST(*status == 0, "stderr: " << user.err());
    // stdout is the command's alone (DESIGN: one-command mode); the tail, and no banner, on
    // stderr.
    BOOST_TEST(user.out() == "from-the-vm\n");
    BOOST_TEST(!contains(user.err(), "Connected to build job"), user.err());
    // The job's own lines first (a VM that boots late adds jobssh's word after them).
    BOOST_TEST(lines_of(user.err()).starts_with("booting\ncloning ✓\n"), user.err());
    BOOST_TEST(lines_of(user.err(), "build") == "+ make\nHéllo wörld\n");
}

BOOST_AUTO_TEST_CASE(a_job_that_has_not_started_is_said_so_at_once_and_followed_once_it_starts) {
    auto& w = world();
    for (std::string status : {"queued", "pending"}) {
        std::int64_t job = w.box->add_job(
            R"({"owner": "alice", "owner_id": 1, "manual": true, "status": ")" + status + R"("})");
        const std::string id = std::to_string(job);
        started_program tail(w.box->ssh_argv("alice", "tail " + id));
        started_program connect(w.box->ssh_argv("alice", "connect " + id + " -- true"));
        const std::string told = "Job " + id + " has not started yet; waiting for it...\n";
        BOOST_TEST(tail.read_err_until(told), status << ": " << tail.err());
        BOOST_TEST(connect.read_err_until(told), status << ": " << connect.err());
        BOOST_TEST(tail.out().empty());
        BOOST_TEST(connect.out().empty());

        // It runs (its log written before the runner says so: a job with no tasks is done
        // stepping at once) and ends: the tail shows it all and exits 0.
        fs::create_directories(w.box->buildlogs() / id);
        std::ofstream(w.box->buildlogs() / id / "log") << "started at last\n";
        w.box->set_job(job, R"({"status": "success"})");
        BOOST_TEST((tail.wait() == std::optional<int>(0)), tail.err());
        BOOST_TEST(lines_of(tail.out()) == "started at last\n");
        BOOST_TEST(tail.err() == told);
        // This world has no VMs: the connect goes on to say so once the job is done.
        BOOST_TEST((connect.wait() == std::optional<int>(69)), connect.err());
        BOOST_TEST(contains(connect.err(), "This job has no build VM to connect to."),
                   connect.err());
    }
}
