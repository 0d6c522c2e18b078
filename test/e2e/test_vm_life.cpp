// The VM's life (docs/design.md) under the real chain: OpenSSH client → front sshd → jobssh-shell
// → the job's VM (a Docker container). The VM is terminated when the job's last interactive
// session ends; after a one-command session it lingers ([jobssh] linger, 20 s here) and goes
// then unless a session started meanwhile; a session that ends before the user's shell or
// command started leaves the job as it found it: no claim, no terminate, nothing in state-dir.
#define BOOST_TEST_MODULE vm_life
#include "pty_driver.hpp"
#include "resilience_helpers.hpp"
#include "sandbox_world.hpp"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <jobssh/connect/session_registry.hpp>
#include <memory>
#include <sstream>
#include <string>
#include <unistd.h>

using namespace jobssh::testing;

namespace {

// Jobs done stepping at once that keep their VM; job 3's VM boots late (after
// every wait for it here has been cut short).
const char* const jobs_json = R"({"jobs": [
  {"id": 1, "owner": "alice", "owner_id": 1, "log": ["peek"], "pace_ms": 0, "shell": true},
  {"id": 2, "owner": "alice", "owner_id": 1, "log": ["peek, then a shell"], "pace_ms": 0,
   "shell": true},
  {"id": 3, "owner": "alice", "owner_id": 1, "log": ["late VM"], "pace_ms": 0, "shell": true,
   "vm_delay_ms": 180000},
  {"id": 4, "owner": "alice", "owner_id": 1, "log": ["stale state"], "pace_ms": 0,
   "shell": true},
  {"id": 5, "owner": "alice", "owner_id": 1, "log": ["claim refused"], "pace_ms": 0,
   "shell": true},
  {"id": 6, "owner": "alice", "owner_id": 1, "log": ["slow start-up files"], "pace_ms": 0,
   "shell": true}
]})";

} // namespace

JOBSSH_MODULE_WORLD(sandbox_world, jobs_json, alice_alone,
                    [](sandbox_options& options) { options.linger = 20s; });

namespace {

std::size_t requests_of(std::int64_t job, const std::string& action) {
    return times_asked(box(), "POST /job/" + std::to_string(job) + "/" + action);
}

std::size_t sessions_of(std::int64_t job) {
    return live_sessions_of(box(), job);
}

bool nothing_left_running() {
    return no_shell_or_watcher_left(box().config_file());
}

// The watcher of job's last session terminated its VM once the linger was over.
bool terminated_once_the_linger_is_over(std::int64_t job) {
    return box()
        .wait_for_syslog(
            "job=" + std::to_string(job) + " user=alice event=terminate reason=linger_over", 60s)
        .has_value();
}

bool no_state_of(std::int64_t job) {
    return !fs::exists(box().state_dir() / ("job-" + std::to_string(job)));
}

// `command` run in the job's VM over ssh, to its end.
run_result one_command(std::int64_t job, const std::string& command) {
    return sandbox::run(
        box().ssh_argv("alice", "connect " + std::to_string(job) + " -- " + command), {}, 60s);
}

// A one-command session that ran: it printed `out`, and the job was claimed once.
void ran_and_claimed(const run_result& result, std::int64_t job, const std::string& out) {
    BOOST_TEST(result.exit_code == 0, result.err);
    BOOST_TEST(result.out == out);
    BOOST_TEST(requests_of(job, "claim") == 1u);
}

// A session that ended before the user's shell or command started leaves the job as it
// found it: nothing of jobssh running, no claim, no terminate, nothing in state-dir.
void left_as_found(std::int64_t job) {
    BOOST_TEST(nothing_left_running());
    BOOST_TEST(requests_of(job, "claim") == 0u);
    BOOST_TEST(requests_of(job, "terminate") == 0u);
    BOOST_TEST(no_state_of(job));
}

// The one session's jobssh-shell: waited for, since the watcher it starts has its command
// line until it execs.
pid_t the_shell() {
    BOOST_REQUIRE(eventually([] { return shells_of(box().config_file()).size() == 1u; }));
    return shells_of(box().config_file()).front().pid;
}

std::string link_of(pid_t pid, int fd) {
    std::error_code ec;
    return fs::read_symlink("/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd), ec)
        .string();
}

// The session id of a process (the sixth field of /proc/PID/stat).
std::string session_id_of(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), {});
    std::istringstream fields(text.substr(text.rfind(')') + 2));
    std::string state, ppid, pgrp, session;
    fields >> state >> ppid >> pgrp >> session;
    return session;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_peek_with_one_command_keeps_the_vm_for_the_linger_then_it_goes) {
    BOOST_REQUIRE(eventually([] { return box().vm_running(1); }, 60s));
    auto peek = one_command(1, "echo peek");
    ran_and_claimed(peek, 1, "peek\n");
    auto lingering = box().wait_for_syslog("job=1 user=alice event=linger seconds=20");
    BOOST_REQUIRE(lingering.has_value());
    // Terminated once the linger is over, by the session's watcher, which then exits.
    BOOST_TEST(terminated_once_the_linger_is_over(1));
    BOOST_TEST(requests_of(1, "terminate") == 1u);
    BOOST_TEST(eventually([] { return !box().vm_running(1); }, 60s));
    BOOST_TEST(nothing_left_running());
    BOOST_TEST(no_state_of(1));
}

BOOST_AUTO_TEST_CASE(a_shell_opened_while_the_vm_lingers_keeps_it_and_its_logout_terminates_it) {
    BOOST_REQUIRE(eventually([] { return box().vm_running(2); }, 60s));
    auto peek = one_command(2, "echo peek");
    BOOST_TEST(peek.exit_code == 0, peek.err);
    BOOST_REQUIRE(box().wait_for_syslog("job=2 user=alice event=linger").has_value());

    pty_driver user(box().ssh_argv("alice", "connect 2", true));
    BOOST_REQUIRE_MESSAGE(user.expect("$ "), user.output());
    // The peek's watcher saw the linger called off and went; the shell's own watcher holds
    // nothing of the user's session and lives in a session of its own.
    BOOST_TEST(eventually([] { return watchers_of(box().config_file()).size() == 1u; }));
    auto watcher = watchers_of(box().config_file()).front().pid;
    for (int fd : {0, 1, 2})
        BOOST_TEST(link_of(watcher, fd) == "/dev/null");
    BOOST_TEST(session_id_of(watcher) != session_id_of(the_shell()));
    BOOST_TEST(requests_of(2, "terminate") == 0u);

    user.send("exit\r");
    auto status = user.wait(30s);
    BOOST_REQUIRE(status.has_value());
    BOOST_TEST(*status == 0);
    BOOST_TEST(requests_of(2, "terminate") == 1u);
    BOOST_TEST(eventually([] { return !box().vm_running(2); }, 60s));
    BOOST_TEST(nothing_left_running());
    BOOST_TEST(no_state_of(2));
    BOOST_TEST(requests_of(2, "terminate") == 1u);
}

BOOST_AUTO_TEST_CASE(
    a_command_session_ended_while_waiting_for_the_vm_leaves_no_claim_and_no_terminate) {
    started_program user(box().ssh_argv("alice", "connect 3 -- echo never"));
    // Joined (counted) and waiting for the VM, which boots a minute late.
    BOOST_REQUIRE(eventually([] { return sessions_of(3) == 1u; }, 30s));
    ::kill(the_shell(), SIGTERM);
    BOOST_TEST(user.wait(30s).has_value(), user.err());
    BOOST_TEST(user.out().empty());
    left_as_found(3);
}

BOOST_AUTO_TEST_CASE(
    an_interactive_session_hung_up_while_waiting_for_the_vm_leaves_the_job_as_found) {
    pty_driver user(box().ssh_argv("alice", "connect 3", true));
    BOOST_REQUIRE(eventually([] { return sessions_of(3) == 1u; }, 30s));
    ::kill(the_shell(), SIGHUP);
    BOOST_TEST(user.wait(30s).has_value(), user.output());
    left_as_found(3);
}

BOOST_AUTO_TEST_CASE(ctrl_c_while_waiting_for_the_vm_leaves_the_job_as_found) {
    pty_driver user(box().ssh_argv("alice", "connect 3", true));
    BOOST_REQUIRE(eventually([] { return sessions_of(3) == 1u; }, 30s));
    user.send("\x03");
    BOOST_TEST(user.wait(30s).has_value(), user.output());
    left_as_found(3);
}

BOOST_AUTO_TEST_CASE(a_session_killed_while_waiting_for_the_vm_leaves_the_job_as_found) {
    started_program user(box().ssh_argv("alice", "connect 3 -- echo never"));
    BOOST_REQUIRE(eventually([] { return sessions_of(3) == 1u; }, 30s));
    ::kill(the_shell(), SIGKILL);
    BOOST_TEST(user.wait(30s).has_value(), user.err());
    // Its watcher left for it: it had not started, so nothing is sent.
    left_as_found(3);
    BOOST_TEST(sessions_of(3) == 0u);
}

BOOST_AUTO_TEST_CASE(state_left_by_an_operator_s_run_as_root_does_not_keep_the_user_out) {
    if (box().login_user() != "builds" || ::geteuid() != 0) {
        BOOST_TEST_MESSAGE("needs root and the login user builds: skipped");
        return;
    }
    // What jobssh-shell run by hand as root left before: job-4/ and its lock, root's.
    auto stale = box().state_dir() / "job-4";
    fs::create_directories(stale);
    std::ofstream(stale / "lock");
    std::ofstream(stale / "session-1-0");
    BOOST_REQUIRE(eventually([] { return box().vm_running(4); }, 60s));
    auto result = one_command(4, "echo through");
    ran_and_claimed(result, 4, "through\n");
    BOOST_TEST(box().wait_for_syslog("event=stale_state").has_value());
    // Nothing outlives the linger: the watcher terminates the VM and goes, and job-4/ with it.
    BOOST_TEST(terminated_once_the_linger_is_over(4));
    BOOST_TEST(nothing_left_running());
    BOOST_TEST(no_state_of(4));
}

BOOST_AUTO_TEST_CASE(a_runner_refusing_the_claim_of_a_started_session_does_not_end_it) {
    BOOST_REQUIRE(eventually([] { return box().vm_running(5); }, 60s));
    box().runner_fault(R"({"status": 500, "body": "no", "match": "/claim"})");
    auto result = one_command(5, "echo reached");
    box().runner_fault("{}");
    // The claim goes out once the command started: its failure is the operator's to read.
    ran_and_claimed(result, 5, "reached\n");
    BOOST_TEST(box().wait_for_syslog("job=5 user=alice event=claim outcome=failed").has_value());
    BOOST_TEST(terminated_once_the_linger_is_over(5));
    BOOST_TEST(nothing_left_running());
}

namespace {

// Gives the VM's bash start-up files that take their time once, the next interactive shell
// only: they print `starting-up` and wait, and a Ctrl-C (Ctrl-\) there ends the shell with
// 130 (131), as start-up files that run commands may. Written over the runner host's own
// ssh to the VM, which is no session of jobssh's.
void slow_start_up_once(std::int64_t job) {
    // Its container may run before its sshd listens.
    BOOST_REQUIRE(eventually(
        [&] { return sandbox::run(box().vm_ssh_argv(job, "true"), {}, 30s).exit_code == 0; }, 60s));
    auto wrote = sandbox::run(box().vm_ssh_argv(job, "cat > ~/.bashrc <<'EOF'\n"
                                                     "if [ -e ~/.slow-once ]; then\n"
                                                     "  rm -f ~/.slow-once\n"
                                                     "  trap 'exit 130' INT; trap 'exit 131' QUIT\n"
                                                     "  echo starting-up; sleep 120\n"
                                                     "fi\n"
                                                     "EOF\n"
                                                     "touch ~/.slow-once"),
                              {}, 60s);
    BOOST_REQUIRE_MESSAGE(wrote.exit_code == 0, wrote.err);
}

} // namespace

BOOST_AUTO_TEST_CASE(ctrl_c_or_ctrl_backslash_at_the_banner_leaves_the_vm_for_the_next_connect) {
    BOOST_REQUIRE(eventually([] { return box().vm_running(6); }, 60s));
    for (const char* key : {"\x03", "\x1c"}) {
        slow_start_up_once(6);
        pty_driver user(box().ssh_argv("alice", "connect 6", true));
        BOOST_REQUIRE_MESSAGE(user.expect("Your VM will be terminated"), user.output());
        BOOST_REQUIRE_MESSAGE(user.expect("starting-up"), user.output());
        user.send(key);
        auto status = user.wait(30s);
        BOOST_REQUIRE_MESSAGE(status.has_value(), user.output());
        BOOST_TEST(*status == (key[0] == '\x03' ? 130 : 131));
        BOOST_TEST(box()
                       .wait_for_syslog("job=6 user=alice event=disconnect end=logout status=" +
                                        std::to_string(*status) + " last=no shell=not_reached")
                       .has_value());
        BOOST_TEST(requests_of(6, "terminate") == 0u);
        BOOST_TEST(box().vm_running(6));
        BOOST_TEST(nothing_left_running());
        BOOST_TEST(no_state_of(6));
    }
    // The next connect finds its VM, and its logout is the job's last.
    pty_driver user(box().ssh_argv("alice", "connect 6", true));
    BOOST_REQUIRE_MESSAGE(user.expect("$ "), user.output());
    user.send("exit\r");
    auto status = user.wait(30s);
    BOOST_REQUIRE(status.has_value());
    BOOST_TEST(*status == 0);
    BOOST_TEST(box()
                   .wait_for_syslog("job=6 user=alice event=terminate reason=last_session", 30s)
                   .has_value());
    BOOST_TEST(requests_of(6, "terminate") == 1u);
    BOOST_TEST(eventually([] { return !box().vm_running(6); }, 60s));
}
