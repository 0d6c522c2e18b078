// A fleet through the real gateway: OpenSSH client → gateway sshd → jobssh-keys →
// jobssh-shell (gateway mode) → ssh → the runner's sshd → jobssh-keys (gateway key) →
// jobssh-shell → the job's VM. Two runner hosts, each on its own loopback address, with
// VMs that got the same port number.
#define BOOST_TEST_MODULE gateway_e2e
#include "pty_driver.hpp"
#include "resilience_helpers.hpp"
#include "sandbox.hpp"
#include "sandbox_world.hpp"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <jobssh/common/ssh_key_format.hpp>
#include <jobssh/connect/session_registry.hpp>
#include <string>
#include <tuple>
#include <vector>

using namespace jobssh::testing;

namespace {

// The first shell job of each runner (12 and 22) gets the first VM port of its runner: the
// same number on both. A session's end terminates the VM: each test has its own jobs.
// pace_ms: one line per pace, so that a large one keeps the job (and a tail of it) running.
std::string job(int id, const char* owner, bool shell, int pace_ms = 0) {
    return R"({"id": )" + std::to_string(id) + R"(, "owner": ")" + owner +
           R"(", "owner_id": 1, "log": ["job )" + std::to_string(id) +
           R"( booted"], "tasks": [{"name": "build", "log": ["built )" + std::to_string(id) +
           R"("]}], "pace_ms": )" + std::to_string(pace_ms) +
           R"(, "result": "success", "shell": )" + (shell ? "true" : "false") +
           R"(, "deadline_s": 14400})";
}

const char* const users_json = R"({"users": [{"name": "alice", "id": 1}, {"name": "bob", "id": 2},
                                  {"name": "carol", "id": 3}]})";

struct gateway_world {
    gateway_world() {
        sandbox_options options;
        options.users_file = data.write("users.json", users_json);
        options.runners = 2;
        options.recordings = true;
        options.runner_jobs_files = {
            data.write("runner-0.json", R"({"jobs": [)" + job(12, "alice", true) + "," +
                                            job(11, "alice", false) + "," + job(13, "alice", true) +
                                            "," + job(14, "bob", false) + "," +
                                            job(16, "alice", true) + "," + job(17, "alice", true) +
                                            "," + job(31, "alice", false, 60000) + "]}"),
            data.write("runner-1.json",
                       R"({"jobs": [)" + job(22, "alice", true) + "," + job(21, "alice", false) +
                           "," + job(25, "alice", true) + "," + job(26, "alice", true) + "," +
                           job(23, "alice", false) + "," + job(24, "alice", false) + "," +
                           job(29, "alice", false) + "," +
                           // job 31 on both: a misconfigured fleet
                           job(31, "alice", false, 60000) + "," + job(28, "alice", true) + "]}")};
        box = std::make_unique<sandbox>(options);
    }

    jobssh::testing::scratch_dir data;
    // After `data`: the sandbox stops before its files are removed.
    std::unique_ptr<sandbox> box;
};

} // namespace

JOBSSH_MODULE_WORLD(gateway_world);

namespace {

// The support line of the gateway's configuration, which ends its refusals.
std::string support() {
    return support_line(jobssh::load_config(box().config_file()));
}

jobssh::fixtures::run_result through_gateway(const std::string& user, const std::string& command,
                                             std::optional<std::string> input = std::nullopt) {
    return sandbox::run(box().ssh_argv(user, command), std::move(input));
}

std::size_t count(const std::vector<std::string>& requests, const std::string& request) {
    return static_cast<std::size_t>(std::count(requests.begin(), requests.end(), request));
}

// The connections that logged in to runner i's sshd, by its log.
std::size_t logins_to_runner(std::size_t runner) {
    return logins_in(
        read_file(box().dir() / ("runner-" + std::to_string(runner)) / "sshd" / "sshd.log"));
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

bool hop_logged_for(int job, const std::string& user) {
    const std::string hop = "job=" + std::to_string(job) + " user=" + user + " event=hop";
    for (const auto& record : box().syslog_records())
        if (record.find(hop) != std::string::npos)
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

// "127.0.0.3:PORT": runner i as the gateway's log names it.
std::string runner_name(std::size_t runner) {
    return box().runner_address(runner) + ":" + std::to_string(box().runner_port(runner));
}

// Where in the syslog records the first one holding every one of `texts` is; npos if none.
std::size_t record_at(const std::vector<std::string>& texts) {
    auto records = box().syslog_records();
    for (std::size_t at = 0; at < records.size(); ++at)
        if (std::all_of(texts.begin(), texts.end(), [&](const std::string& text) {
                return records[at].find(text) != std::string::npos;
            }))
            return at;
    return std::string::npos;
}

// Runner i's sshd stopped (SIGSTOP) until the test ends: a hop to it is left connecting,
// the runner's sshd never answering its banner.
struct stopped_runner_sshd {
    std::vector<pid_t> stopped;
    explicit stopped_runner_sshd(std::size_t runner) {
        auto config = box().dir() / ("runner-" + std::to_string(runner)) / "sshd" / "sshd_config";
        for (const auto& process : processes_with(config.string()))
            if (::kill(process.pid, SIGSTOP) == 0)
                stopped.push_back(process.pid);
    }
    ~stopped_runner_sshd() {
        for (pid_t pid : stopped)
            ::kill(pid, SIGCONT);
    }
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

BOOST_AUTO_TEST_CASE(no_vm_is_given_the_port_that_its_runners_sshd_listens_on) {
    // Each runner counts its VMs' ports up on its own address, and a VM binds its port only
    // once it boots, after the runners' sshds are up: a VM given that port would never come
    // up, and jobssh would meet the runner sshd's host key where the VM's was due.
    for (auto [job, runner] :
         {std::pair{12, 0}, std::pair{13, 0}, std::pair{16, 0}, std::pair{17, 0}, std::pair{22, 1},
          std::pair{25, 1}, std::pair{26, 1}, std::pair{28, 1}})
        BOOST_TEST(box().vm_port(job, runner) != box().runner_sshd_port(runner), "job " << job);
}

BOOST_AUTO_TEST_CASE(tail_through_the_gateway_follows_a_live_job_to_its_end) {
    // Added now, its lines written 400 ms apart: the tail starts before they are all there.
    box().add_job(job(27, "alice", false, 400), 1);
    auto tailed = through_gateway("alice", "tail 27");
    BOOST_TEST(tailed.exit_code == 0, tailed.err);
    BOOST_TEST(tailed.out == "job 27 booted\n[build] built 27\n");
}

BOOST_AUTO_TEST_CASE(a_fresh_job_on_either_runner_gets_a_number_of_its_own_and_tails_by_it) {
    // As scripts/sandbox-job asks for one: no id, the runner picks. Both runners' highest
    // so far is 31.
    auto fresh = [](std::size_t runner) {
        return box().add_job(R"({"owner": "alice", "owner_id": 1, "log": ["fresh on runner )" +
                                 std::to_string(runner) + R"("], "pace_ms": 0})",
                             runner);
    };
    const std::int64_t on_first = fresh(0);
    const std::int64_t on_second = fresh(1);
    BOOST_TEST(on_first != on_second);
    BOOST_TEST(on_first > 31);
    BOOST_TEST(on_second > 31);
    for (auto [id, runner] : {std::pair{on_first, 0}, std::pair{on_second, 1}}) {
        auto tailed = through_gateway("alice", "tail " + std::to_string(id));
        BOOST_TEST(tailed.exit_code == 0, "tail " << id << ": " << tailed.err);
        BOOST_TEST(tailed.out == "fresh on runner " + std::to_string(runner) + "\n", "tail " << id);
    }
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
    // The new size travels through both hops: ask until it arrived.
    BOOST_TEST(user.resize_until_the_shell_sees_it(30, 100), user.output());
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
    BOOST_TEST(ran.err == "No such job found.\n" + support(), ran.err);
}

BOOST_AUTO_TEST_CASE(another_users_job_is_refused_at_the_gateway_without_a_hop) {
    auto ran = through_gateway("alice", "tail 14");
    BOOST_TEST(ran.exit_code == 77);
    BOOST_TEST(ran.err == "You are not permitted to connect to this job.\n" + support(), ran.err);
    BOOST_TEST(ran.out.empty());
    BOOST_TEST(box().wait_for_syslog("job=14 user=alice").has_value());
    BOOST_TEST(!hop_logged_for(14, "alice"));
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
    BOOST_TEST(tailed.err ==
                   "The build runner cannot be reached right now. Try again later.\n" + support(),
               tailed.err);
}

BOOST_AUTO_TEST_CASE(a_runner_presenting_another_host_key_is_refused) {
    box().pin_runner_host_key(1, false);
    auto tailed = through_gateway("alice", "tail 21");
    box().pin_runner_host_key(1, true);
    BOOST_TEST(tailed.exit_code == 69);
    BOOST_TEST(tailed.err == "The build runner did not present the host key we know for it, so we "
                             "did not connect to it.\n" +
                                 support(),
               tailed.err);
    BOOST_TEST(tailed.out.empty());
    BOOST_TEST(tailed.err.find("known_hosts") == std::string::npos, tailed.err);
}

BOOST_AUTO_TEST_CASE(only_a_gateway_key_may_name_a_user_and_only_in_the_gateway_syntax) {
    // A person with their own key, at a runner, in the gateway's syntax: just a command.
    auto forged = sandbox::run(box().runner_ssh_argv(0, "bob", "as alice tail 11"));
    BOOST_TEST(forged.exit_code == 64);
    BOOST_TEST(forged.out.empty());
    // The gateway's key used without a user named, or with a malformed one.
    for (const char* command : {"tail 11", "as ALICE tail 11", "as  alice tail 11", "as",
                                "as-key alice SHA256:short tail 11", "as-key alice tail 11"}) {
        auto direct = sandbox::run(box().runner_ssh_argv(0, "gateway", command));
        BOOST_TEST(direct.exit_code == 77, command);
        BOOST_TEST(direct.err == "You are not permitted to connect to this job.\n" + support(),
                   command << ": " << direct.err);
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
    // Both hosts log the session's end as the hang-up it was: the user's terminal went. The
    // session records are the ones that name the command (the runner's also the gateway key).
    auto ends_of_the_session = [] {
        std::vector<std::string> found;
        for (const auto& record : box().syslog_records())
            if (record.find(" command=\"connect 25\" outcome=") != std::string::npos)
                found.push_back(record);
        return found;
    };
    BOOST_TEST_REQUIRE(eventually([&] { return ends_of_the_session().size() == 2; }));
    for (const auto& record : ends_of_the_session()) {
        BOOST_TEST(record.find(" outcome=hangup exit=129 ") != std::string::npos, record);
        BOOST_TEST(record.ends_with(" detail=SIGHUP"), record);
    }
}

BOOST_AUTO_TEST_CASE(
    a_viewer_the_runner_lists_may_watch_and_replay_through_the_gateway_a_stranger_not) {
    box().set_job(17, R"({"viewers": ["carol"]})", 0);
    pty_driver user(box().ssh_argv("alice", "connect 17", true));
    BOOST_TEST_REQUIRE(user.expect("Connected to build job #17"), user.output());
    BOOST_TEST_REQUIRE(user.expect("$ "), user.output());
    user.send("echo seen-$((6 * 7))\r");
    BOOST_TEST_REQUIRE(user.expect("seen-42"), user.output());

    pty_driver viewer(box().ssh_argv("carol", "watch 17", true));
    BOOST_TEST_REQUIRE(viewer.expect("Watching alice's session on job #17"), viewer.output());
    BOOST_TEST(viewer.expect("seen-42"), viewer.output());
    viewer.send("q");
    BOOST_TEST((viewer.wait() == 0), viewer.output());

    // Listed by no runner, owning nothing: refused at the gateway, no hop made for them.
    for (const char* command : {"watch 17", "replay 17", "replay 17 1"}) {
        auto refused = through_gateway("bob", command);
        BOOST_TEST(refused.exit_code == 77, command);
        BOOST_TEST(refused.err.starts_with(
                       "You are not permitted to watch or replay this job's sessions.\n"),
                   command << ": " << refused.err);
        BOOST_TEST(refused.out.empty(), command);
    }
    BOOST_TEST(box().wait_for_syslog("job=17 user=bob").has_value());
    BOOST_TEST(!hop_logged_for(17, "bob"));
    BOOST_TEST(box().wait_for_syslog("job=17 user=carol event=hop").has_value());

    user.send("exit\r");
    BOOST_TEST_REQUIRE((user.wait() == 0), user.output());
    auto listed = through_gateway("carol", "replay 17");
    BOOST_TEST(listed.exit_code == 0, listed.err);
    BOOST_TEST(listed.out.starts_with("Recorded sessions of job #17:\n  1  "), listed.out);
    BOOST_TEST(listed.out.find("  alice  ") != std::string::npos, listed.out);
    pty_driver replay(box().ssh_argv("carol", "replay 17 1 --speed 100", true));
    BOOST_TEST(replay.expect("seen-42"), replay.output());
    BOOST_TEST((replay.wait() == 0), replay.output());
    // Viewing is all a viewer may do.
    auto connect = through_gateway("carol", "connect 17 -- true");
    BOOST_TEST(connect.exit_code == 77, connect.err);
}

BOOST_AUTO_TEST_CASE(
    a_runner_that_hangs_does_not_hold_up_a_job_on_another_and_is_logged_after_the_hop) {
    runner_fault hung(0, R"({"delay_ms": 600000, "match": "GET /job/23/info"})");
    auto tailed = through_gateway("alice", "tail 23");
    BOOST_TEST(tailed.exit_code == 0, tailed.err);
    BOOST_TEST(tailed.out == "job 23 booted\n[build] built 23\n");
    // Its own line, though the other runner had the job; and after the hop, which did not
    // wait for it.
    const std::vector<std::string> unreachable{"job=23 runner=" + runner_name(0) +
                                               " outcome=runner_unreachable"};
    BOOST_TEST_REQUIRE(box().wait_for_syslog(unreachable[0]).has_value());
    const std::size_t hop = record_at({"job=23 ", "event=hop runner=" + runner_name(1)});
    BOOST_TEST_REQUIRE(hop != std::string::npos);
    BOOST_TEST(hop < record_at(unreachable));
    BOOST_TEST(record_at({"job=23 ", "runner=" + runner_name(1), "outcome=runner_unreachable"}) ==
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_job_two_runners_both_have_goes_to_one_of_them_and_the_log_names_both) {
    // The job runs for minutes: the session lasts until the other runner has answered too.
    started_program user(box().ssh_argv("alice", "tail 31"));
    auto warned = box().wait_for_syslog("outcome=job_on_two_runners");
    BOOST_TEST_REQUIRE(warned.has_value());
    BOOST_TEST(warned->find("job=31 ") != std::string::npos, *warned);
    for (std::size_t runner : {0u, 1u})
        BOOST_TEST(warned->find(runner_name(runner)) != std::string::npos, *warned);
    // The session went on with the first answer.
    BOOST_TEST(eventually([] { return hop_logged_for(31, "alice"); }));
}

BOOST_AUTO_TEST_CASE(ctrl_c_or_ctrl_backslash_while_the_hop_connects_interrupts_the_session) {
    // A master to runner 1 left by an earlier case still answers (its connection's sshd is not
    // the stopped listener), and its command line names the runner: the hop would ride it
    // past the handshake this case is about. Stopped, the hop makes its own.
    for (const auto& master : masters_to_runners())
        ::kill(master.pid, SIGTERM);
    BOOST_TEST_REQUIRE(eventually([] { return masters_to_runners().empty(); }));
    stopped_runner_sshd stopped(1);
    BOOST_TEST_REQUIRE(!stopped.stopped.empty());
    const std::string user_key = jobssh::key_fingerprint(box().public_key_b64("alice"));
    for (auto [job, key, signal] :
         {std::tuple(24, "\x03", SIGINT), std::tuple(29, "\x1c", SIGQUIT)}) {
        const std::string command = "connect " + std::to_string(job);
        pty_driver user(box().ssh_argv("alice", command, true));
        // An ssh to the runner, waiting for its banner: the hop's own (multiplex = no; the
        // user's terminal is raw at the gateway by then, so the key reaches the hop's pty) or
        // the master the hop would ride (the key reaches jobssh-shell, still cooked).
        const std::string hop =
            "@" + box().runner_address(1) + " as-key alice " + user_key + " " + command;
        // This box's (its state-dir in the command line): other runs on the machine have
        // runners at the same address.
        auto to_runner = [] {
            for (const auto& p : processes_with("@" + box().runner_address(1)))
                if (p.cmdline.find(box().state_dir().string()) != std::string::npos)
                    return true;
            return false;
        };
        BOOST_TEST_REQUIRE(eventually(to_runner), user.output());
        user.send(key);
        BOOST_TEST(user.expect("Interrupted."), user.output());
        auto status = user.wait();
        BOOST_TEST_REQUIRE(status.has_value());
        BOOST_TEST(*status == 128 + signal);
        auto record =
            box().wait_for_syslog("job=" + std::to_string(job) + " user=alice key=" + user_key +
                                  " command=\"" + command + "\" outcome=");
        BOOST_TEST_REQUIRE(record.has_value());
        BOOST_TEST(record->find("outcome=interrupted exit=" + std::to_string(128 + signal)) !=
                       std::string::npos,
                   *record);
        BOOST_TEST(processes_with(hop).empty());
    }
    BOOST_TEST(only_masters_to_runners(box().state_dir()));
}

BOOST_AUTO_TEST_CASE(the_runner_records_the_users_key_as_the_key_and_the_gateways_apart) {
    auto tailed = through_gateway("alice", "tail 11");
    BOOST_TEST_REQUIRE(tailed.exit_code == 0, tailed.err);
    const std::string user_key = jobssh::key_fingerprint(box().public_key_b64("alice"));
    const std::string gateway_key = jobssh::key_fingerprint(box().public_key_b64("gateway"));
    // The runner's record (outcome=success; the gateway's says hop).
    auto record =
        box().wait_for_syslog("job=11 user=alice key=" + user_key + " gateway_key=" + gateway_key +
                              " command=\"tail 11\" outcome=success");
    BOOST_TEST(record.has_value());
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
