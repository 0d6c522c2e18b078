// Signals and hang-ups in every phase of a session (DESIGN: "Signals and hang-ups in every
// phase"), one-command output (DESIGN: "What goes where") and jobs without a VM, through the
// real chain: OpenSSH client → front sshd → jobssh-shell → the job's VM (a Docker container).
// After each end: the exit status, the one line the user sees, the session's one syslog
// record, the runner's requests, nothing left running and no file left in state-dir.
#define BOOST_TEST_MODULE signals
#include "pty_driver.hpp"
#include "resilience_helpers.hpp"
#include "sandbox_world.hpp"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

using namespace jobssh::testing;

// No jobs: the tests add them, each its own.
JOBSSH_MODULE_WORLD(sandbox_world, R"({"jobs": []})", alice_alone,
                    [](sandbox_options& options) { options.poll_interval = 200ms; });

namespace {

std::size_t requests_of(std::int64_t job, const std::string& what) {
    return times_asked(box(), "POST /job/" + std::to_string(job) + "/" + what);
}

std::size_t info_requests_of(std::int64_t job) {
    return times_asked(box(), "GET /job/" + std::to_string(job) + "/info");
}

// The session records of one job (jobssh-shell's line with `outcome=`).
std::vector<std::string> session_records_of(std::int64_t job) {
    std::vector<std::string> found;
    for (const auto& record : box().syslog_records())
        if (record.find("jobssh-shell") != std::string::npos &&
            record.find(" job=" + std::to_string(job) + " ") != std::string::npos &&
            record.find(" outcome=") != std::string::npos &&
            record.find(" event=") == std::string::npos)
            found.push_back(record);
    return found;
}

// The one record of the job's session, once it came.
std::string the_session_record_of(std::int64_t job) {
    box().wait_for_syslog(" job=" + std::to_string(job) + " ");
    eventually([&] { return !session_records_of(job).empty(); });
    auto records = session_records_of(job);
    BOOST_TEST(records.size() == 1u);
    return records.empty() ? "" : records.front();
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// What is under state-dir that a session of `job` could have left behind, files and
// directories (an empty one too), one per line: other jobs' registries are not this test's.
std::string left_in_state_dir(std::int64_t job) {
    std::string left;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(box().state_dir(), ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        auto name = it->path().filename().string();
        if (it->is_directory() && name.starts_with("job-") && name != "job-" + std::to_string(job))
            it.disable_recursion_pending();
        else
            left += it->path().string() + "\n";
    }
    return left;
}

bool no_shell_left() {
    return eventually([] { return shells_of(box().config_file()).empty(); });
}

pid_t the_shell() {
    pid_t pid = 0;
    eventually([&] {
        auto shells = shells_of(box().config_file());
        if (shells.size() == 1)
            pid = shells.front().pid;
        return pid != 0;
    });
    BOOST_REQUIRE(pid != 0);
    return pid;
}

// A job done stepping whose VM boots long after any test ends: connect waits for it.
std::int64_t job_with_a_late_vm() {
    return box().add_job(R"({"owner": "alice", "owner_id": 1, "log": ["built"], "pace_ms": 0,
        "shell": true, "vm_delay_ms": 600000})");
}

// A job that runs until the test says otherwise: connect tails it.
std::int64_t running_job() {
    auto job = box().add_job(R"({"owner": "alice", "owner_id": 1, "manual": true,
        "shell": true, "tasks": [{"name": "build", "log": []}]})");
    auto log = box().buildlogs() / std::to_string(job) / "log";
    fs::create_directories(log.parent_path());
    std::ofstream(log) << "still building\n";
    return job;
}

// How the user stops a session: a key on their terminal, or a signal to jobssh-shell.
struct way_to_stop {
    const char* name;
    std::string keys; // typed at the terminal; empty: `signal` sent to jobssh-shell
    int signal;
    bool says_interrupted;
};

const std::vector<way_to_stop> ways_to_stop{
    {"Ctrl-C", "\x03", SIGINT, true},
    {"Ctrl-\\", "\x1c", SIGQUIT, true},
    {"SIGHUP", "", SIGHUP, false},
    {"SIGTERM", "", SIGTERM, false},
};

// What every stopped session shows, whatever phase it was in.
void check_a_clean_end(std::int64_t job, pty_driver& user, const way_to_stop& way) {
    BOOST_TEST_CONTEXT(way.name << ", job " << job) {
        auto status = user.wait(30s);
        BOOST_REQUIRE_MESSAGE(status.has_value(), user.output());
        BOOST_TEST(*status == 128 + way.signal, user.output());
        BOOST_TEST(contains(user.output(), "Interrupted.") == way.says_interrupted, user.output());
        auto record = the_session_record_of(job);
        BOOST_TEST(contains(record, " exit=" + std::to_string(128 + way.signal) + " "), record);
        BOOST_TEST(
            contains(record, way.says_interrupted ? " outcome=interrupted " : " outcome=hangup "),
            record);
        BOOST_TEST(no_shell_left());
        // Left as found: nothing claimed, nothing terminated.
        BOOST_TEST(requests_of(job, "claim") == 0u);
        BOOST_TEST(requests_of(job, "terminate") == 0u);
        BOOST_TEST(left_in_state_dir(job) == "");
    }
}

void stop(pty_driver& user, const way_to_stop& way) {
    if (way.keys.empty())
        ::kill(the_shell(), way.signal);
    else
        user.send(way.keys);
}

} // namespace

BOOST_AUTO_TEST_SUITE(signals_in_every_phase)

// The phases of a connect before the user's shell, each with the job that puts a session in
// it and what the user sees once it is there.
struct phase {
    const char* name;
    std::int64_t (*job)();
    const char* cue;
};

const std::vector<phase> phases_before_the_shell{
    {"waiting for the VM", job_with_a_late_vm, "Waiting for the build VM to come up..."},
    {"tail", running_job, "still building"},
};

BOOST_AUTO_TEST_CASE(each_way_to_stop_ends_each_phase_before_the_shell_cleanly) {
    for (const auto& at : phases_before_the_shell) {
        for (const auto& way : ways_to_stop) {
            BOOST_TEST_CONTEXT(at.name) {
                auto job = at.job();
                pty_driver user(box().ssh_argv("alice", "connect " + std::to_string(job), true));
                BOOST_REQUIRE_MESSAGE(user.expect(at.cue), user.output());
                stop(user, way);
                check_a_clean_end(job, user, way);
                // No promise was made for a VM that never answered.
                BOOST_TEST(!contains(user.output(), "Connected to build job"), user.output());
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(ctrl_c_while_the_job_and_key_are_looked_up_ends_the_session_cleanly) {
    auto job = running_job();
    // The runner answers late: jobssh-shell (only it asks about the job) waits for it.
    box().runner_fault(R"({"delay_ms": 20000, "match": "GET /job/)" + std::to_string(job) +
                       R"(/info"})");
    pty_driver user(box().ssh_argv("alice", "connect " + std::to_string(job), true));
    bool asked = eventually([&] { return info_requests_of(job) >= 1; });
    if (asked)
        user.send("\x03");
    auto status = user.wait(30s);
    box().runner_fault("{}");
    BOOST_REQUIRE(asked);
    BOOST_REQUIRE_MESSAGE(status.has_value(), user.output());
    BOOST_TEST(*status == 128 + SIGINT, user.output());
    BOOST_TEST(contains(user.output(), "Interrupted."), user.output());
    auto record = the_session_record_of(job);
    BOOST_TEST(contains(record, " outcome=interrupted exit=130 "), record);
    BOOST_TEST(no_shell_left());
    BOOST_TEST(requests_of(job, "claim") == 0u);
}

BOOST_AUTO_TEST_CASE(ctrl_z_never_stops_jobssh_shell) {
    auto job = job_with_a_late_vm();
    pty_driver user(box().ssh_argv("alice", "connect " + std::to_string(job), true));
    BOOST_REQUIRE_MESSAGE(user.expect("Waiting for the build VM to come up..."), user.output());
    // A stopped jobssh-shell would keep the Ctrl-C that follows pending, and never end.
    user.send("\x1a");
    user.send("\x03");
    auto status = user.wait(30s);
    BOOST_REQUIRE_MESSAGE(status.has_value(), user.output());
    BOOST_TEST(*status == 128 + SIGINT, user.output());
    BOOST_TEST(no_shell_left());
}

BOOST_AUTO_TEST_CASE(the_user_s_ssh_hung_up_while_waiting_for_the_vm_ends_the_session_quietly) {
    auto job = job_with_a_late_vm();
    pty_driver user(box().ssh_argv("alice", "connect " + std::to_string(job), true));
    BOOST_REQUIRE_MESSAGE(user.expect("Waiting for the build VM to come up..."), user.output());
    the_shell(); // seen before it must go
    user.kill(SIGHUP);
    BOOST_TEST(user.wait(30s).has_value());
    BOOST_TEST(no_shell_left());
    auto record = the_session_record_of(job);
    BOOST_TEST(contains(record, " outcome=hangup "), record);
    BOOST_TEST(requests_of(job, "claim") == 0u);
    BOOST_TEST(requests_of(job, "terminate") == 0u);
    BOOST_TEST(left_in_state_dir(job) == "");
}

BOOST_AUTO_TEST_CASE(sigterm_to_jobssh_shell_mid_command_stops_the_command_and_ends_with_143) {
    auto job = box().add_job(R"({"owner": "alice", "owner_id": 1, "log": ["built"], "pace_ms": 0,
        "shell": true})");
    BOOST_REQUIRE(eventually([&] { return box().vm_running(job); }, 60s));
    started_program user(box().ssh_argv("alice", "connect " + std::to_string(job) +
                                                     " -- sh -c 'echo started; sleep 1000'"));
    BOOST_REQUIRE_MESSAGE(user.read_until("started\n"), user.err());
    ::kill(the_shell(), SIGTERM);
    auto status = user.wait(30s);
    BOOST_REQUIRE(status.has_value());
    BOOST_TEST(*status == 128 + SIGTERM, user.err());
    BOOST_TEST(user.out() == "started\n");
    BOOST_TEST(no_shell_left());
    BOOST_TEST(jobssh::testing::vm_clients_of(box().vm_port(job)).empty());
    auto record = the_session_record_of(job);
    BOOST_TEST(contains(record, " outcome=hangup exit=143 "), record);
}

BOOST_AUTO_TEST_CASE(sighup_to_jobssh_shell_mid_interactive_session_ends_it_and_its_ssh_quietly) {
    auto job = box().add_job(R"({"owner": "alice", "owner_id": 1, "log": ["built"], "pace_ms": 0,
        "shell": true})");
    BOOST_REQUIRE(eventually([&] { return box().vm_running(job); }, 60s));
    pty_driver user(box().ssh_argv("alice", "connect " + std::to_string(job), true));
    BOOST_REQUIRE_MESSAGE(user.expect("$ "), user.output());
    user.send("sleep 1000\r");
    const auto port = box().vm_port(job);
    BOOST_REQUIRE(eventually([&] { return !jobssh::testing::vm_clients_of(port).empty(); }));
    ::kill(the_shell(), SIGHUP);
    auto status = user.wait(30s);
    BOOST_REQUIRE_MESSAGE(status.has_value(), user.output());
    BOOST_TEST(*status == 128 + SIGHUP, user.output());
    BOOST_TEST(!contains(user.output(), "Interrupted."), user.output());
    BOOST_TEST(no_shell_left());
    BOOST_TEST(eventually([&] { return jobssh::testing::vm_clients_of(port).empty(); }));
    auto record = the_session_record_of(job);
    BOOST_TEST(contains(record, " outcome=hangup exit=129 "), record);
    // Its files (ssh's diagnostics, its entry under live/, its registry) went with it.
    BOOST_TEST(left_in_state_dir(job) == "");
}

BOOST_AUTO_TEST_CASE(stdin_closed_from_the_start_is_no_hang_up_before_the_command_runs) {
    auto job = running_job();
    started_program user(
        box().ssh_argv("alice", "connect " + std::to_string(job) + " -- echo ran"));
    BOOST_REQUIRE(eventually([&] { return info_requests_of(job) >= 3; }));
    box().set_job(job, R"({"task": 1})");
    BOOST_REQUIRE(eventually([&] { return box().vm_running(job); }, 60s));
    auto status = user.wait(90s);
    BOOST_REQUIRE(status.has_value());
    BOOST_TEST(*status == 0, user.err());
    BOOST_TEST(user.out() == "ran\n");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(one_command_mode)

BOOST_AUTO_TEST_CASE(a_binary_copied_out_of_a_running_job_is_byte_exact_and_stdout_is_its_alone) {
    auto job = running_job();
    // The file as the VM has it, fetched directly once its sshd answers.
    jobssh::fixtures::run_result original;
    BOOST_REQUIRE(eventually(
        [&] {
            original = sandbox::run(box().vm_ssh_argv(job, "cat /usr/bin/ssh"));
            return original.exit_code == 0;
        },
        60s));
    BOOST_TEST(original.out.size() > 100000u);
    started_program user(
        box().ssh_argv("alice", "connect " + std::to_string(job) + " -- cat /usr/bin/ssh"));
    // The tail is under way (it asks the runner again and again) before the job finishes.
    BOOST_REQUIRE(eventually([&] { return info_requests_of(job) >= 3; }));
    box().set_job(job, R"({"task": 1})");
    auto status = user.wait(90s);
    BOOST_REQUIRE(status.has_value());
    BOOST_TEST(*status == 0, user.err());
    BOOST_TEST((user.out() == original.out),
               "stdout differs: " << user.out().size() << " bytes of " << original.out.size());
    // The log went to stderr, and no banner anywhere.
    BOOST_TEST(contains(user.err(), "still building\n"), user.err());
    BOOST_TEST(!contains(user.err(), "Connected to build job"), user.err());
}

BOOST_AUTO_TEST_CASE(a_command_on_a_finished_job_prints_nothing_of_jobssh) {
    auto job = box().add_job(R"({"owner": "alice", "owner_id": 1, "log": ["built"], "pace_ms": 0,
        "shell": true})");
    BOOST_REQUIRE(eventually([&] { return box().vm_running(job); }, 60s));
    auto result =
        sandbox::run(box().ssh_argv("alice", "connect " + std::to_string(job) + " -- true"));
    BOOST_TEST(result.exit_code == 0, result.err);
    BOOST_TEST(result.out == "");
    BOOST_TEST(result.err == "");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(jobs_without_a_vm)

BOOST_AUTO_TEST_CASE(a_job_with_no_vm_is_told_so_at_once_without_a_banner) {
    auto job = box().add_job(R"({"owner": "alice", "owner_id": 1, "log": ["broke"], "pace_ms": 0,
        "result": "failed"})");
    BOOST_REQUIRE(eventually([&] { return contains(box().job_info_json(job), "\"failed\""); }));
    for (bool tty : {false, true}) {
        BOOST_TEST_CONTEXT("tty " << tty) {
            pty_driver user(box().ssh_argv("alice", "connect " + std::to_string(job), tty));
            auto status = user.wait(30s);
            BOOST_REQUIRE(status.has_value());
            BOOST_TEST(*status == 69);
            BOOST_TEST(contains(user.output(), "This job has no build VM"), user.output());
            BOOST_TEST(!contains(user.output(), "Waiting"), user.output());
            BOOST_TEST(!contains(user.output(), "Connected to build job"), user.output());
        }
    }
    BOOST_TEST(requests_of(job, "claim") == 0u);
}

BOOST_AUTO_TEST_CASE(a_finished_job_whose_vm_is_gone_is_told_so_without_waiting_for_it) {
    auto job = box().add_job(R"({"owner": "alice", "owner_id": 1, "log": ["built"], "pace_ms": 0,
        "shell": true})");
    BOOST_REQUIRE(eventually([&] { return box().vm_running(job); }, 60s));
    // The VM goes; the runner still names its port, as it does for a job that ended.
    auto port = box().vm_port(job);
    BOOST_REQUIRE_EQUAL(sandbox::run({"docker", "kill", box().vm_name(job)}).exit_code, 0);
    BOOST_REQUIRE(eventually([&] { return !box().vm_running(job); }));
    box().set_job(job, R"({"status": "failed", "port": )" + std::to_string(port) + "}");
    auto result = sandbox::run(box().ssh_argv("alice", "connect " + std::to_string(job)));
    BOOST_TEST(result.exit_code == 69, result.err);
    BOOST_TEST(contains(result.err, "The job's build VM is gone"), result.err);
    BOOST_TEST(!contains(result.err, "Waiting"), result.err);
    BOOST_TEST(!contains(result.out, "Connected to build job"), result.out);
    auto record = the_session_record_of(job);
    BOOST_TEST(contains(record, " outcome=vm_gone exit=69 "), record);
    // Told within 5 s of asking: the record's duration_ms.
    auto at = record.find("duration_ms=");
    BOOST_REQUIRE(at != std::string::npos);
    BOOST_TEST(std::stol(record.substr(at + 12)) < 5000, record);
}

BOOST_AUTO_TEST_SUITE_END()
