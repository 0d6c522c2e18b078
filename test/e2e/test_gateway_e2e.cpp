// A fleet through the real gateway: OpenSSH client → gateway sshd → jobssh-keys →
// jobssh-shell (gateway mode) → ssh → the runner's sshd → jobssh-keys (gateway key) →
// jobssh-shell → the job's VM. Two runner hosts, each on its own loopback address, with
// VMs that got the same port number.
#define BOOST_TEST_MODULE gateway_e2e
#include "pty_driver.hpp"
#include "resilience_helpers.hpp"
#include "sandbox.hpp"
#include "sandbox_world.hpp"

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <jobssh/connect/session_registry.hpp>
#include <string>

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using jobssh::fixtures::sandbox;
using jobssh::fixtures::sandbox_options;
using jobssh::testing::eventually;
using jobssh::testing::processes_with;
using jobssh::testing::pty_driver;

namespace {

// The first shell job of each runner (12 and 22) gets the first VM port of its runner: the
// same number on both. A session's end terminates the VM: each test has its own jobs.
std::string job(int id, const char* owner, bool shell, int pace_ms = 0) {
    return R"({"id": )" + std::to_string(id) + R"(, "owner": ")" + owner +
           R"(", "owner_id": 1, "log": ["job )" + std::to_string(id) +
           R"( booted"], "tasks": [{"name": "build", "log": ["built )" + std::to_string(id) +
           R"("]}], "pace_ms": )" + std::to_string(pace_ms) +
           R"(, "result": "success", "shell": )" + (shell ? "true" : "false") +
           R"(, "deadline_s": 14400})";
}

const char* const users_json =
    R"({"users": [{"name": "alice", "id": 1}, {"name": "bob", "id": 2}]})";

struct gateway_world {
    gateway_world() {
        sandbox_options options;
        options.users_file = data.write("users.json", users_json);
        options.runners = 2;
        options.runner_jobs_files = {
            data.write("runner-0.json", R"({"jobs": [)" + job(12, "alice", true) + "," +
                                            job(11, "alice", false) + "," + job(13, "alice", true) +
                                            "," + job(14, "bob", false) + "," +
                                            job(16, "alice", true) + "]}"),
            data.write("runner-1.json", R"({"jobs": [)" + job(22, "alice", true) + "," +
                                            job(21, "alice", false) + "," + job(25, "alice", true) +
                                            "," + job(26, "alice", true) + "," +
                                            job(28, "alice", true) + "]}")};
        box = std::make_unique<sandbox>(options);
    }

    jobssh::testing::scratch_dir data;
    // After `data`: the sandbox stops before its files are removed.
    std::unique_ptr<sandbox> box;
};

} // namespace

JOBSSH_MODULE_WORLD(gateway_world);

namespace {

sandbox& box() {
    return *gateway_world_of_the_module::get().box;
}

jobssh::fixtures::run_result through_gateway(const std::string& user, const std::string& command,
                                             std::optional<std::string> input = std::nullopt) {
    return sandbox::run(box().ssh_argv(user, command), std::move(input));
}

std::size_t count(const std::vector<std::string>& requests, const std::string& request) {
    return static_cast<std::size_t>(std::count(requests.begin(), requests.end(), request));
}

// The connections that logged in to runner i's sshd (its log says "Accepted publickey" once
// per handshake, never per session).
std::size_t logins_to_runner(std::size_t runner) {
    std::ifstream log(box().dir() / ("runner-" + std::to_string(runner)) / "sshd" / "sshd.log");
    std::string text((std::istreambuf_iterator<char>(log)), {});
    std::size_t count = 0;
    for (auto at = text.find("Accepted publickey for"); at != std::string::npos;
         at = text.find("Accepted publickey for", at + 1))
        ++count;
    return count;
}

// The gateway's masters to runner 1 (runner hosts are 127.0.0.2 and up): ssh -f -M … whose
// socket is under the gateway's state-dir.
std::vector<jobssh::testing::process_entry> masters_to_runners() {
    std::vector<jobssh::testing::process_entry> masters;
    for (auto& p : processes_with((box().state_dir() / "mux-127.0.0.3-").string()))
        if (p.cmdline.find(" -M ") != std::string::npos)
            masters.push_back(std::move(p));
    return masters;
}

// The gateway keeps nothing of a session: what its state-dir holds is its masters to runner
// hosts ([jobssh] multiplex), each a socket, a pid file and a lock file.
bool only_masters_to_runners(const fs::path& state_dir) {
    for (const auto& entry : fs::directory_iterator(state_dir))
        if (!entry.path().filename().string().starts_with("mux-"))
            return false;
    return true;
}

bool hop_logged_for(int job) {
    for (const auto& record : box().syslog_records())
        if (record.find("job=" + std::to_string(job) + " ") != std::string::npos &&
            record.find("event=hop") != std::string::npos)
            return true;
    return false;
}

// A fault on a runner's API, cleared when the test ends however it ends.
struct runner_fault {
    std::size_t runner;
    runner_fault(std::size_t at, const char* fault)
        : runner(at) {
        box().runner_fault(fault, runner);
    }
    ~runner_fault() { box().runner_fault("{}", runner); }
};

} // namespace

BOOST_AUTO_TEST_CASE(tail_through_the_gateway_prints_the_logs_of_a_job_on_either_runner) {
    for (int job : {11, 21}) {
        auto tailed = through_gateway("alice", "tail " + std::to_string(job));
        BOOST_TEST(tailed.exit_code == 0, "tail " << job << ": " << tailed.err);
        BOOST_TEST(tailed.out.find("job " + std::to_string(job) + " booted") != std::string::npos);
        BOOST_TEST(tailed.out.find("[build] built " + std::to_string(job)) != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(tail_through_the_gateway_follows_a_live_job_to_its_end) {
    // Added now, its lines written 400 ms apart: the tail starts before they are all there.
    box().add_job(job(27, "alice", false, 400), 1);
    auto tailed = through_gateway("alice", "tail 27");
    BOOST_TEST(tailed.exit_code == 0, tailed.err);
    BOOST_TEST(tailed.out == "job 27 booted\n[build] built 27\n");
}

BOOST_AUTO_TEST_CASE(one_command_reaches_the_vm_of_its_own_runner_though_both_vms_have_one_port) {
    BOOST_TEST(box().vm_port(12, 0) == box().vm_port(22, 1));
    for (auto [job, runner] : {std::pair{12, 0}, std::pair{22, 1}}) {
        auto ran = through_gateway("alice", "connect " + std::to_string(job) + " -- hostname");
        BOOST_TEST(ran.exit_code == 0, "job " << job << ": " << ran.err);
        BOOST_TEST(ran.out == "jobssh-vm-" + std::to_string(job) + "\n");
        // The session ended on the runner that has the job, and on no other.
        const std::string terminate = "POST /job/" + std::to_string(job) + "/terminate";
        BOOST_TEST(count(box().runner_requests(runner), terminate) == 1u);
        BOOST_TEST(count(box().runner_requests(1 - runner), terminate) == 0u);
    }
}

BOOST_AUTO_TEST_CASE(one_command_through_the_gateway_is_binary_safe_and_returns_its_exit_status) {
    std::string every_byte;
    for (int byte = 0; byte < 256; ++byte)
        every_byte += static_cast<char>(byte);
    std::string input;
    for (int i = 0; i < 64; ++i)
        input += every_byte;
    auto copied = through_gateway("alice", "connect 16 -- cat", input);
    BOOST_TEST(copied.exit_code == 0, copied.err);
    BOOST_TEST((copied.out == input), "stdout differs from stdin (" << copied.out.size()
                                                                    << " bytes of " << input.size()
                                                                    << ")");
    auto failed = through_gateway("alice", "connect 26 -- sh -c 'cat; exit 7'", "x");
    BOOST_TEST(failed.exit_code == 7);
    BOOST_TEST(failed.out == "x");
}

BOOST_AUTO_TEST_CASE(an_interactive_session_through_the_gateway_has_a_pty_that_follows_resizes) {
    pty_driver user(box().ssh_argv("alice", "connect 13", true), 24, 80);
    BOOST_TEST_REQUIRE(user.expect("Connected to build job #13"), user.output());
    BOOST_TEST_REQUIRE(user.expect("$ "), user.output());
    user.send("echo $((6 * 7))\r");
    BOOST_TEST(user.expect("42"), user.output());
    user.send("stty size\r");
    BOOST_TEST(user.expect("24 80"), user.output());
    user.resize(30, 100);
    // The new size travels through both hops: ask until it arrived.
    bool resized = false;
    for (int attempt = 0; attempt < 20 && !resized; ++attempt) {
        user.send("stty size\r");
        resized = user.expect("30 100", 1s);
    }
    BOOST_TEST(resized, user.output());
    user.send("exit 3\r");
    auto status = user.wait();
    BOOST_TEST_REQUIRE(status.has_value());
    BOOST_TEST(*status == 3);
    // The runner's session ended with the last one: its VM is terminated, once.
    BOOST_TEST(
        eventually([] { return count(box().runner_requests(0), "POST /job/13/terminate") == 1; }));
}

BOOST_AUTO_TEST_CASE(a_job_no_runner_has_is_no_such_job) {
    auto ran = through_gateway("alice", "tail 999");
    BOOST_TEST(ran.exit_code == 66);
    BOOST_TEST(ran.err.starts_with("No such job found.\n"), ran.err);
}

BOOST_AUTO_TEST_CASE(another_users_job_is_refused_at_the_gateway_without_a_hop) {
    auto ran = through_gateway("alice", "tail 14");
    BOOST_TEST(ran.exit_code == 77);
    BOOST_TEST(ran.err.starts_with("You are not permitted to connect to this job.\n"), ran.err);
    BOOST_TEST(ran.out.empty());
    BOOST_TEST(box().wait_for_syslog("job=14 user=alice").has_value());
    BOOST_TEST(!hop_logged_for(14));
}

BOOST_AUTO_TEST_CASE(a_runner_that_is_down_does_not_keep_users_from_the_other_runners_jobs) {
    runner_fault down(0, R"({"close": true})");
    auto tailed = through_gateway("alice", "tail 21");
    BOOST_TEST(tailed.exit_code == 0, tailed.err);
    BOOST_TEST(tailed.out.find("[build] built 21") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_job_whose_runner_is_down_is_unavailable) {
    runner_fault down(1, R"({"close": true})");
    auto tailed = through_gateway("alice", "tail 21");
    BOOST_TEST(tailed.exit_code == 69);
    BOOST_TEST(tailed.err.starts_with("The build runner cannot be reached right now."), tailed.err);
}

BOOST_AUTO_TEST_CASE(a_runner_presenting_another_host_key_is_refused) {
    box().pin_runner_host_key(1, false);
    auto tailed = through_gateway("alice", "tail 21");
    box().pin_runner_host_key(1, true);
    BOOST_TEST(tailed.exit_code == 69);
    BOOST_TEST(tailed.err.starts_with("The build runner did not present the host key"), tailed.err);
    BOOST_TEST(tailed.out.empty());
    BOOST_TEST(tailed.err.find("known_hosts") == std::string::npos, tailed.err);
}

BOOST_AUTO_TEST_CASE(only_a_gateway_key_may_name_a_user_and_only_in_the_gateway_syntax) {
    // A person with their own key, at a runner, in the gateway's syntax: just a command.
    auto forged = sandbox::run(box().runner_ssh_argv(0, "bob", "as alice tail 11"));
    BOOST_TEST(forged.exit_code == 64);
    BOOST_TEST(forged.out.empty());
    // The gateway's key used without a user named, or with a malformed one.
    for (const char* command : {"tail 11", "as ALICE tail 11", "as  alice tail 11", "as"}) {
        auto direct = sandbox::run(box().runner_ssh_argv(0, "gateway", command));
        BOOST_TEST(direct.exit_code == 77, command);
        BOOST_TEST(direct.err.starts_with("You are not permitted"), command << ": " << direct.err);
        BOOST_TEST(direct.out.empty());
    }
    // The runner still checks that the user named owns the job.
    auto not_theirs = sandbox::run(box().runner_ssh_argv(0, "gateway", "as alice tail 14"));
    BOOST_TEST(not_theirs.exit_code == 77);
}

BOOST_AUTO_TEST_CASE(a_client_killed_at_the_gateway_leaves_nothing_on_either_host) {
    const std::string shell = (box().dir() / "bin" / "jobssh-shell").string();
    pty_driver user(box().ssh_argv("alice", "connect 25", true));
    BOOST_TEST_REQUIRE(user.expect("Connected to build job #25"), user.output());
    BOOST_TEST_REQUIRE(user.expect("$ "), user.output());
    BOOST_TEST(processes_with(shell).size() == 2); // the gateway's and the runner's
    user.kill(SIGKILL);
    BOOST_TEST(eventually([&] { return processes_with(shell).empty(); }));
    BOOST_TEST(
        eventually([] { return count(box().runner_requests(1), "POST /job/25/terminate") == 1; }));
    BOOST_TEST(!box().vm_running(25, 1));
    BOOST_TEST(only_masters_to_runners(box().state_dir()));
    BOOST_TEST(jobssh::live_sessions(box().runner_state_dir(1), 25) == 0u);
}

BOOST_AUTO_TEST_CASE(sessions_through_the_gateway_ride_one_connection_to_their_runner) {
    BOOST_TEST(through_gateway("alice", "tail 21").exit_code == 0);
    auto logins = logins_to_runner(1);
    BOOST_TEST(logins >= 1u);
    for (int round = 0; round < 2; ++round) {
        auto tailed = through_gateway("alice", "tail 21");
        BOOST_TEST(tailed.exit_code == 0, tailed.err);
        BOOST_TEST(tailed.out.find("[build] built 21") != std::string::npos);
    }
    BOOST_TEST(logins_to_runner(1) == logins);
    // The user's locale passes both masters (the gateway's to the runner, the runner's to the
    // VM), as with a direct ssh.
    BOOST_REQUIRE(eventually([] { return box().vm_running(28, 1); }, 60s));
    auto argv = box().ssh_argv("alice", "connect 28 -- echo \"$LANG|$LC_TIME\"");
    argv.insert(argv.begin() + 1, {"-o", "SendEnv=LANG LC_*"});
    argv.insert(argv.begin(), {"env", "-u", "LC_ALL", "LANG=C.UTF-8", "LC_TIME=en_US.UTF-8"});
    auto locale = sandbox::run(argv);
    BOOST_TEST(locale.exit_code == 0, locale.err);
    BOOST_TEST(locale.out == "C.UTF-8|en_US.UTF-8\n", locale.err);
    BOOST_TEST(logins_to_runner(1) == logins);
    // The master outlives the sessions (until it has been idle 5 minutes), under state-dir.
    BOOST_TEST(!masters_to_runners().empty());
    BOOST_TEST(only_masters_to_runners(box().state_dir()));
}
