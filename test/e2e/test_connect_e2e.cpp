// `connect` through the real chain: OpenSSH client → front sshd → jobssh-keys →
// jobssh-shell → the job's VM (a Docker container running sshd), driven on a real pty.
#define BOOST_TEST_MODULE connect_e2e
#include "pty_driver.hpp"
#include "sandbox_world.hpp"

#include <algorithm>
#include <csignal>
#include <fstream>
#include <thread>

using namespace jobssh::testing;

namespace {

// Every job is done stepping at once and keeps its VM for a shell; each test has its own
// job, since a session's end terminates the VM. Written out whole (alike but for the log
// and the host key, and listed by `duplicates`): the runner's data as each test sees it.
const char* const jobs_json = R"({"jobs": [
  {"id": 1, "owner": "alice", "owner_id": 1, "log": ["interactive"],
   "tasks": [{"name": "build", "log": ["built"]}], "pace_ms": 0, "result": "success",
   "shell": true, "deadline_s": 14400},
  {"id": 2, "owner": "alice", "owner_id": 1, "log": ["one command"],
   "tasks": [{"name": "build", "log": ["built"]}], "pace_ms": 0, "result": "success",
   "shell": true, "deadline_s": 14400},
  {"id": 3, "owner": "alice", "owner_id": 1, "log": ["two sessions"],
   "tasks": [{"name": "build", "log": ["built"]}], "pace_ms": 0, "result": "success",
   "shell": true, "deadline_s": 14400},
  {"id": 4, "owner": "alice", "owner_id": 1, "log": ["hang-up"],
   "tasks": [{"name": "build", "log": ["built"]}], "pace_ms": 0, "result": "success",
   "shell": true, "deadline_s": 14400},
  {"id": 5, "owner": "alice", "owner_id": 1, "log": ["impostor VM"],
   "tasks": [{"name": "build", "log": ["built"]}], "pace_ms": 0, "result": "success",
   "shell": true, "deadline_s": 14400, "wrong_host_key": true},
  {"id": 6, "owner": "alice", "owner_id": 1, "log": ["impostor VM, interactive"],
   "tasks": [{"name": "build", "log": ["built"]}], "pace_ms": 0, "result": "success",
   "shell": true, "deadline_s": 14400, "wrong_host_key": true}
]})";

// One sandbox for the module: starting VMs is the slow part.
JOBSSH_MODULE_WORLD(sandbox_world, jobs_json, alice_and_bob);

sandbox& box() {
    return *sandbox_world_of_the_module::get().box;
}

std::size_t count(const std::vector<std::string>& requests, const std::string& request) {
    return static_cast<std::size_t>(std::count(requests.begin(), requests.end(), request));
}

std::string terminate_of(int job) {
    return "POST /job/" + std::to_string(job) + "/terminate";
}

// Until `condition` holds, with a bound: for effects that follow an exit asynchronously.
template <typename Condition>
bool eventually(Condition condition, std::chrono::seconds bound = 20s) {
    auto until = std::chrono::steady_clock::now() + bound;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= until)
            return false;
        std::this_thread::sleep_for(100ms);
    }
    return true;
}

// Processes on this host whose command line contains `needle`.
std::vector<pid_t> processes_with(const std::string& needle) {
    std::vector<pid_t> found;
    for (const auto& entry : fs::directory_iterator("/proc")) {
        auto name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos)
            continue;
        std::ifstream file(entry.path() / "cmdline");
        std::string cmdline((std::istreambuf_iterator<char>(file)), {});
        std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
        if (cmdline.find(needle) != std::string::npos && std::stoi(name) != ::getpid())
            found.push_back(std::stoi(name));
    }
    return found;
}

std::unique_ptr<pty_driver> interactive(int job, unsigned short rows = 24,
                                        unsigned short columns = 80) {
    return std::make_unique<pty_driver>(
        box().ssh_argv("alice", "connect " + std::to_string(job), true), rows, columns);
}

} // namespace

BOOST_AUTO_TEST_CASE(an_interactive_session_behaves_like_direct_ssh) {
    auto user = interactive(1, 30, 100);
    BOOST_REQUIRE_MESSAGE(user->expect("Connected to build job #1 (running): "), user->output());
    BOOST_TEST(user->expect("Your VM will be terminated 4 hours from now, or when you log out."));
    BOOST_REQUIRE_MESSAGE(user->expect("$ "), user->output());

    user->send("echo $((6*7))\r");
    BOOST_TEST(user->expect("42\r\n"), user->output());

    user->send("stty size\r");
    BOOST_TEST(user->expect("30 100"));
    user->resize(40, 120);
    // The new size travels ssh → sshd → jobssh → ssh → the VM: ask until it arrived.
    bool resized = false;
    for (int attempt = 0; attempt < 20 && !resized; ++attempt) {
        user->send("stty size\r");
        resized = user->expect("40 120", 1s);
    }
    BOOST_TEST(resized);

    // Ctrl-C once the command runs (seen on the VM, not guessed from a sleep) ends it by
    // SIGINT: 130. A key that came early would have hit bash's prompt instead, and one lost
    // would leave the sleep running past the bound.
    user->send("rm -f /tmp/interrupt-me; sh -c 'touch /tmp/interrupt-me; exec sleep 100'\r");
    BOOST_REQUIRE(eventually([] {
        return sandbox::run(box().vm_ssh_argv(1, "test -e /tmp/interrupt-me")).exit_code == 0;
    }));
    user->send("\x03");
    user->send("echo rc=$?\r");
    BOOST_TEST(user->expect("rc=130\r\n", 20s), user->output());
    user->send("echo still-$((1+1))\r");
    BOOST_TEST(user->expect("still-2", 20s));

    // A full-screen program: top draws its screen, and gives the prompt back on `q`.
    user->send("top\r");
    BOOST_TEST(user->expect("load average", 20s), user->output());
    user->send("q");
    BOOST_TEST(user->expect("$ ", 20s), user->output()); // top flushes what was typed ahead
    user->send("echo back-$((2*2))\r");
    BOOST_TEST(user->expect("back-4", 20s), user->output());

    user->send("exit 3\r");
    auto status = user->wait(30s);
    BOOST_REQUIRE(status);
    BOOST_TEST(*status == 3);
    auto requests = box().runner_requests();
    BOOST_TEST(count(requests, "POST /job/1/claim") == 1u);
    BOOST_TEST(count(requests, terminate_of(1)) == 1u);
}

BOOST_AUTO_TEST_CASE(one_command_gets_piped_stdin_and_its_exit_status_comes_back) {
    auto result = sandbox::run(box().ssh_argv("alice", "connect 2 -- sh -c 'cat; exit 7'"),
                               std::string("line one\nline two\n"), 60s);
    BOOST_TEST_MESSAGE(result.err);
    BOOST_TEST(result.exit_code == 7);
    BOOST_TEST(result.out == "line one\nline two\n");
    BOOST_TEST(result.err.find("Connected to build job #2") != std::string::npos);
    BOOST_TEST(count(box().runner_requests(), terminate_of(2)) == 1u);
}

BOOST_AUTO_TEST_CASE(two_sessions_on_one_job_terminate_it_once_after_the_second_ends) {
    auto first = interactive(3);
    auto second = interactive(3);
    BOOST_REQUIRE_MESSAGE(first->expect("$ "), first->output());
    BOOST_REQUIRE_MESSAGE(second->expect("$ "), second->output());

    first->send("exit\r");
    BOOST_REQUIRE(first->wait(30s));
    BOOST_TEST(count(box().runner_requests(), terminate_of(3)) == 0u);
    BOOST_TEST(box().vm_running(3));
    second->send("echo $((2+3))\r");
    BOOST_TEST(second->expect("5\r\n"), second->output());

    second->send("exit\r");
    BOOST_REQUIRE(second->wait(30s));
    BOOST_TEST(count(box().runner_requests(), terminate_of(3)) == 1u);
}

BOOST_AUTO_TEST_CASE(a_client_killed_mid_session_leaves_nothing_running_and_the_vm_terminated) {
    auto vm_port = std::to_string(box().vm_port(4));
    auto user = interactive(4);
    BOOST_REQUIRE_MESSAGE(user->expect("$ "), user->output());
    user->send("sleep 1000\r");
    auto shells = processes_with(box().config_file().string());
    auto vm_clients = processes_with("-p " + vm_port + " ");
    BOOST_TEST(!shells.empty()); // what we expect to see gone, seen first
    BOOST_TEST(!vm_clients.empty());

    user->kill(SIGKILL);
    BOOST_TEST(eventually([&] { return processes_with(box().config_file().string()).empty(); }));
    BOOST_TEST(eventually([&] { return processes_with("-p " + vm_port + " ").empty(); }));
    BOOST_TEST(eventually([&] { return count(box().runner_requests(), terminate_of(4)) == 1; }));
}

BOOST_AUTO_TEST_CASE(a_vm_presenting_another_host_key_is_refused) {
    auto result = sandbox::run(box().ssh_argv("alice", "connect 5 -- echo reached"), {}, 60s);
    BOOST_TEST_MESSAGE(result.err);
    BOOST_TEST(result.exit_code == 69);
    BOOST_TEST(result.out.find("reached") == std::string::npos);
    BOOST_TEST(result.err.ends_with("The job's build VM did not present the host key it was "
                                    "given, so we did not connect to it.\n" +
                                    support_line(jobssh::load_config(box().config_file()))),
               result.err);
}

BOOST_AUTO_TEST_CASE(an_interactive_user_is_told_plainly_when_the_vm_s_host_key_is_wrong) {
    auto user = interactive(6);
    auto status = user->wait(60s);
    BOOST_REQUIRE(status);
    BOOST_TEST(*status == 69);
    BOOST_TEST(user->output().find("did not present the host key") != std::string::npos,
               user->output());
    // Not ssh's advice to remove the pinned key from a file of ours.
    BOOST_TEST(user->output().find("known_hosts") == std::string::npos, user->output());
    BOOST_TEST(user->output().find("$ ") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_user_is_warned_a_minute_before_the_deadline_and_the_session_ends_at_it) {
    auto job = box().add_job(R"({"id": 7, "owner": "alice", "owner_id": 1, "log": ["short"],
        "tasks": [{"name": "build", "log": ["built"]}], "pace_ms": 0, "result": "success",
        "shell": true, "deadline_s": 14400})");
    // The deadline is set once the VM is up, not counted from the job's start: booting a VM
    // on a loaded machine must not eat the 15 s before the warning is due (one due when the
    // session begins is skipped, the banner saying when).
    BOOST_REQUIRE(eventually([&] { return box().vm_running(job); }, 120s));
    const auto deadline = std::chrono::duration_cast<std::chrono::seconds>(
        (std::chrono::system_clock::now() + 75s).time_since_epoch());
    box().set_job(job, R"({"deadline": )" + std::to_string(deadline.count()) + "}");
    auto user = interactive(static_cast<int>(job));
    BOOST_REQUIRE_MESSAGE(user->expect("Your VM will be terminated a minute from now"),
                          user->output());
    BOOST_REQUIRE_MESSAGE(user->expect("$ "), user->output());
    BOOST_TEST(user->expect("Your VM will be terminated in a minute.", 75s), user->output());
    BOOST_TEST(user->expect("time is up", 90s), user->output());
    auto status = user->wait(30s);
    BOOST_TEST(status.has_value(), user->output());
    BOOST_TEST(eventually([&] { return !box().vm_running(job); }));
}

BOOST_AUTO_TEST_CASE(a_client_without_a_terminal_killed_mid_command_leaves_nothing_running) {
    auto job = box().add_job(R"({"id": 8, "owner": "alice", "owner_id": 1, "log": ["pipes"],
        "tasks": [{"name": "build", "log": ["built"]}], "pace_ms": 0, "result": "success",
        "shell": true, "deadline_s": 14400})");
    BOOST_REQUIRE(eventually([&] { return box().vm_running(job); }));
    auto vm_port = std::to_string(box().vm_port(job));
    // A pty for the local client only, to read its output as it comes; ssh -T gives
    // jobssh-shell pipes.
    pty_driver user(box().ssh_argv("alice", "connect 8 -- sh -c 'echo started; sleep 1000'"));
    BOOST_REQUIRE_MESSAGE(user.expect("started"), user.output());
    BOOST_TEST(!processes_with("-p " + vm_port + " ").empty());

    user.kill(SIGKILL);
    BOOST_TEST(eventually([&] { return processes_with(box().config_file().string()).empty(); }));
    BOOST_TEST(eventually([&] { return processes_with("-p " + vm_port + " ").empty(); }));
    BOOST_TEST(eventually([&] { return count(box().runner_requests(), terminate_of(8)) == 1; }));
}
