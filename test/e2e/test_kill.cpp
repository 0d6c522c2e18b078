// Processes killed and VMs failing under a real chain: OpenSSH client → front sshd →
// jobssh-shell → the job's VM (a Docker container). After each: no jobssh-shell or ssh of
// this sandbox left (found by its own paths in /proc), no session's watcher left, the session
// count in state-dir, and terminate sent exactly when the last session is gone.
//
// The contract for a jobssh-shell killed with SIGKILL (DESIGN: "A killed jobssh-shell"): it
// cannot send terminate itself. Its ssh to the VM dies with it (PR_SET_PDEATHSIG), and its
// watcher (jobssh-shell --watch-session, started with the session, holding its flock) sees it
// die and leaves for it: the VM is terminated when it was the job's last session (at once
// here, where [jobssh] linger is 0, for a one-command session too).
#define BOOST_TEST_MODULE kill
#include "pty_driver.hpp"
#include "resilience_helpers.hpp"
#include "sandbox_world.hpp"

#include <algorithm>
#include <csignal>
#include <jobssh/connect/session_registry.hpp>

using namespace jobssh::testing;

namespace {

// Jobs done stepping at once that keep their VM; 3 is written by the tests.
const char* const jobs_json = R"({"jobs": [
  {"id": 1, "owner": "alice", "owner_id": 1, "log": ["pipes"], "pace_ms": 0, "shell": true},
  {"id": 2, "owner": "alice", "owner_id": 1, "log": ["pty"], "pace_ms": 0, "shell": true},
  {"id": 3, "owner": "alice", "owner_id": 1, "manual": true,
   "tasks": [{"name": "build", "log": []}]},
  {"id": 5, "owner": "alice", "owner_id": 1, "log": ["dies"], "pace_ms": 0, "shell": true},
  {"id": 6, "owner": "alice", "owner_id": 1, "log": ["sshd"], "pace_ms": 0, "shell": true}
]})";

JOBSSH_MODULE_WORLD(sandbox_world, jobs_json, alice_alone,
                    [](sandbox_options& options) { options.poll_interval = 200ms; });

std::size_t terminates_of(std::int64_t job) {
    return times_asked(box(), "POST /job/" + std::to_string(job) + "/terminate");
}

std::size_t sessions_of(std::int64_t job) {
    return live_sessions_of(box(), job);
}

bool no_shell_left() {
    return no_shell_or_watcher_left(box().config_file());
}

bool no_vm_client_left(std::uint16_t port) {
    return eventually([&] { return vm_clients_of(port).empty(); });
}

// The one session's jobssh-shell: waited for, since the watcher it starts has its command
// line until it execs.
pid_t the_shell() {
    BOOST_REQUIRE(eventually([] { return shells_of(box().config_file()).size() == 1u; }));
    return shells_of(box().config_file()).front().pid;
}

} // namespace

BOOST_AUTO_TEST_SUITE(sigkill)

BOOST_AUTO_TEST_CASE(jobssh_shell_killed_mid_command_takes_its_ssh_along_and_its_vm_is_terminated) {
    BOOST_REQUIRE(eventually([] { return box().vm_running(1); }, 60s));
    const auto port = box().vm_port(1);
    started_program user(box().ssh_argv("alice", "connect 1 -- sh -c 'echo started; sleep 1000'"));
    BOOST_REQUIRE_MESSAGE(user.read_until("started\n"), user.err());
    BOOST_TEST(session_ssh_of(port).size() == 1u); // what must go, seen first
    BOOST_TEST(sessions_of(1) == 1u);
    BOOST_TEST(watchers_of(box().config_file()).size() == 1u);

    ::kill(the_shell(), SIGKILL);
    auto status = user.wait(30s);
    BOOST_TEST(status.has_value());
    BOOST_TEST(no_vm_client_left(port));
    // Its watcher left for it: the last session, so the VM goes, within a minute.
    BOOST_TEST(eventually([] { return terminates_of(1) == 1u; }, 60s));
    BOOST_TEST(eventually([] { return !box().vm_running(1); }, 60s));
    BOOST_TEST(no_shell_left());
    BOOST_TEST(sessions_of(1) == 0u);
    BOOST_TEST(terminates_of(1) == 1u);
    BOOST_TEST(!fs::exists(box().state_dir() / "job-1"));
}

BOOST_AUTO_TEST_CASE(jobssh_shell_killed_mid_interactive_session_hangs_up_its_ssh_and_the_vm_goes) {
    BOOST_REQUIRE(eventually([] { return box().vm_running(2); }, 60s));
    const auto port = box().vm_port(2);
    pty_driver user(box().ssh_argv("alice", "connect 2", true));
    BOOST_REQUIRE_MESSAGE(user.expect("$ "), user.output());
    user.send("sleep 1000\r");
    BOOST_TEST(session_ssh_of(port).size() == 1u);

    ::kill(the_shell(), SIGKILL);
    BOOST_TEST(user.wait(30s).has_value(), user.output());
    BOOST_TEST(no_vm_client_left(port));
    BOOST_TEST(eventually([] { return terminates_of(2) == 1u; }, 60s));
    BOOST_TEST(eventually([] { return !box().vm_running(2); }, 60s));
    BOOST_TEST(no_shell_left());
    BOOST_TEST(sessions_of(2) == 0u);
    BOOST_TEST(!fs::exists(box().state_dir() / "job-2"));
    BOOST_TEST(box()
                   .wait_for_syslog("job=2 user=alice event=terminate reason=session_killed")
                   .has_value());
}

BOOST_AUTO_TEST_CASE(jobssh_shell_killed_mid_tail_ends_the_users_ssh_and_terminates_nothing) {
    auto log = box().buildlogs() / "3" / "log";
    fs::create_directories(log.parent_path());
    std::ofstream(log) << "first line\n";
    started_program user(box().ssh_argv("alice", "tail 3"));
    BOOST_REQUIRE_MESSAGE(user.read_until("first line\n"), user.err());

    ::kill(the_shell(), SIGKILL);
    auto status = user.wait(30s);
    BOOST_REQUIRE(status.has_value());
    // ssh reports the session lost to a signal as its own failure (255): not success.
    BOOST_TEST(*status == 255, user.err());
    BOOST_TEST(no_shell_left());
    BOOST_TEST(terminates_of(3) == 0u);
    BOOST_TEST(sessions_of(3) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(vm_faults)

BOOST_AUTO_TEST_CASE(a_vm_whose_sshd_is_not_up_yet_is_waited_for_and_the_user_told_once) {
    auto job = box().add_job(R"({"id": 4, "owner": "alice", "owner_id": 1, "log": ["late VM"],
        "pace_ms": 0, "shell": true, "vm_delay_ms": 5000})");
    auto result = sandbox::run(box().ssh_argv("alice", "connect 4 -- echo reached"), {}, 90s);
    BOOST_TEST(result.exit_code == 0, result.err);
    BOOST_TEST(result.out == "reached\n");
    const std::string waiting = "Waiting for the build VM to come up...\n";
    auto first = result.err.find(waiting);
    BOOST_TEST(first != std::string::npos, result.err);
    BOOST_TEST(result.err.find(waiting, first + 1) == std::string::npos, result.err);
    BOOST_TEST(terminates_of(job) == 1u);
    BOOST_TEST(no_shell_left());
}

BOOST_AUTO_TEST_CASE(a_vm_dying_mid_session_ends_it_with_ssh_s_words_then_jobssh_s_and_69) {
    BOOST_REQUIRE(eventually([] { return box().vm_running(5); }, 60s));
    const auto port = box().vm_port(5);
    pty_driver user(box().ssh_argv("alice", "connect 5", true));
    BOOST_REQUIRE_MESSAGE(user.expect("$ "), user.output());

    auto killed = sandbox::run({"docker", "kill", box().vm_name(5)});
    BOOST_REQUIRE_MESSAGE(killed.exit_code == 0, killed.err);
    auto status = user.wait(60s);
    BOOST_TEST_MESSAGE("after the VM died: " << user.output());
    BOOST_REQUIRE(status.has_value());
    // ssh's words on the lost connection, then jobssh's own line and status (VM unavailable).
    BOOST_TEST(*status == 69);
    auto ssh_words = user.output().find("Connection to localhost closed by remote host.");
    auto jobssh_words = user.output().find("The job's build VM is gone");
    BOOST_TEST(jobssh_words != std::string::npos, user.output());
    if (ssh_words != std::string::npos)
        BOOST_TEST(ssh_words < jobssh_words, user.output());
    BOOST_TEST(eventually([] { return terminates_of(5) == 1u; }));
    BOOST_TEST(no_shell_left());
    BOOST_TEST(no_vm_client_left(port));
    BOOST_TEST(sessions_of(5) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

// Last: the sandbox has no front sshd afterwards.
BOOST_AUTO_TEST_SUITE(front_sshd)

BOOST_AUTO_TEST_CASE(sigterm_to_the_front_sshd_leaves_open_sessions_running_to_their_end) {
    BOOST_REQUIRE(eventually([] { return box().vm_running(6); }, 60s));
    const auto port = box().vm_port(6);
    pty_driver user(box().ssh_argv("alice", "connect 6", true));
    BOOST_REQUIRE_MESSAGE(user.expect("$ "), user.output());

    // The listener is the sshd started with this sandbox's config ("sshd: /usr/sbin/sshd -D
    // -f … [listener] …"); sessions are its re-executed children, with other command lines.
    auto config = (box().dir() / "sshd" / "sshd_config").string();
    std::vector<pid_t> listeners;
    for (const auto& p : processes_with("-f " + config))
        if (p.cmdline.starts_with("sshd: ") || p.cmdline.starts_with("/usr/sbin/sshd "))
            listeners.push_back(p.pid);
    BOOST_REQUIRE_EQUAL(listeners.size(), 1u);
    ::kill(listeners.front(), SIGTERM);
    BOOST_TEST(eventually([&] { return processes_with("-f " + config).empty(); }));

    // OpenSSH keeps established sessions: this one still works and ends normally.
    user.send("echo $((6*7))\r");
    BOOST_TEST(user.expect("42\r\n"), user.output());
    auto refused = sandbox::run(box().ssh_argv("alice", "tail 3"), {}, 30s);
    BOOST_TEST(refused.exit_code == 255);
    user.send("exit\r");
    auto status = user.wait(30s);
    BOOST_REQUIRE(status.has_value());
    BOOST_TEST(*status == 0);
    BOOST_TEST(terminates_of(6) == 1u);
    BOOST_TEST(no_shell_left());
    BOOST_TEST(no_vm_client_left(port));
    BOOST_TEST(sessions_of(6) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
