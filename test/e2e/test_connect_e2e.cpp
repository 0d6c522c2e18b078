// `connect` through the real chain: OpenSSH client → front sshd → jobssh-keys →
// jobssh-shell → the job's VM (a Docker container running sshd), driven on a real pty.
#define BOOST_TEST_MODULE connect_e2e
#include "pty_driver.hpp"
#include "sandbox_world.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <csignal>
#include <fstream>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using namespace jobssh::testing;

namespace {

// A job done stepping at once that keeps its VM for a shell, with one line of log, and its
// deadline 4 hours (deadline_s) after it started.
std::string shell_job(int id, const std::string& log, bool wrong_host_key = false) {
    return R"({"id": )" + std::to_string(id) + R"(, "owner": "alice", "owner_id": 1, "log": [")" +
           log + R"("], "tasks": [{"name": "build", "log": ["built"]}], "pace_ms": 0,)" +
           R"( "result": "success", "shell": true, "deadline_s": 14400)" +
           (wrong_host_key ? R"(, "wrong_host_key": true})" : "}");
}

// Each test has its own job, since a session's end terminates the VM; 5 and 6 have a VM that
// does not present the host key it was given.
const std::string jobs_json = R"({"jobs": [)" + shell_job(1, "interactive") + ", " +
                              shell_job(2, "one command") + ", " + shell_job(3, "two sessions") +
                              ", " + shell_job(4, "hang-up") + ", " +
                              shell_job(5, "impostor VM", true) + ", " +
                              shell_job(6, "impostor VM, interactive", true) + "]}";

// One sandbox for the module: starting VMs is the slow part.
JOBSSH_MODULE_WORLD(sandbox_world, jobs_json, alice_and_bob);

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
        std::string cmdline;
        try {
            cmdline.assign(std::istreambuf_iterator<char>(file), {});
        } catch (const std::ios_base::failure&) {
            continue; // it exited while we read
        }
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
    // deadline_s 14400, a moment ago: the time left is rounded down.
    BOOST_TEST(user->expect("Your VM will be terminated 3 hours from now, or when you log out."));
    BOOST_REQUIRE_MESSAGE(user->expect("$ "), user->output());

    user->send("echo $((6*7))\r");
    BOOST_TEST(user->expect("42\r\n"), user->output());

    user->send("stty size\r");
    BOOST_TEST(user->expect("30 100"));
    // The new size travels ssh → sshd → jobssh → ssh → the VM: ask until it arrived.
    BOOST_TEST(user->resize_until_the_shell_sees_it(40, 120));

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
    BOOST_TEST(result.err.find("Connected to build job") == std::string::npos, result.err);
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

// What a user types means what ssh means, and what a user reads is true.
BOOST_AUTO_TEST_SUITE(the_user_s_words)

namespace {

// A job done stepping whose VM waits for a shell, numbered by the runner.
std::int64_t fresh_job() {
    return box().add_job(R"({"owner": "alice", "owner_id": 1, "log": ["words"],
        "tasks": [{"name": "build", "log": ["built"]}], "pace_ms": 0, "result": "success",
        "shell": true, "deadline_s": 14400})");
}

// What ssh sends as SSH_ORIGINAL_COMMAND for `ssh … connect <job> -- <typed>`: the words
// the user's shell made of `typed`, joined with spaces. `words` are those words.
std::string sent(std::int64_t job, const std::vector<std::string>& words) {
    std::string command = "connect " + std::to_string(job) + " --";
    for (const auto& word : words)
        command += " " + word;
    return command;
}

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// An interactive session held open on `job`, so that one-command sessions beside it are
// never the job's last.
struct held_open {
    std::unique_ptr<pty_driver> user;
    explicit held_open(std::int64_t job)
        : user(interactive(static_cast<int>(job))) {
        BOOST_REQUIRE_MESSAGE(user->expect("$ "), user->output());
    }
    ~held_open() {
        user->send("exit\r");
        user->wait(30s);
    }
};

} // namespace

BOOST_AUTO_TEST_CASE(the_readme_s_commands_mean_on_the_vm_what_they_mean_to_a_direct_ssh) {
    auto job = fresh_job();
    held_open holder(job);

    // echo hi | ssh … connect J -- sh -c 'cat; exit 7'
    auto status = sandbox::run(box().ssh_argv("alice", sent(job, {"sh", "-c", "cat; exit 7"})),
                               std::string("hi\n"), 60s);
    BOOST_TEST(status.exit_code == 7, status.err);
    BOOST_TEST(status.out == "hi\n");

    // ssh … connect J -- sh -c 'cat > /tmp/blob' < blob
    std::string blob;
    for (int i = 0; blob.size() < 1024 * 1024; ++i)
        blob += "line " + std::to_string(i) + " \x01\xff\n";
    auto in = sandbox::run(box().ssh_argv("alice", sent(job, {"sh", "-c", "cat > /tmp/blob"})),
                           blob, 60s);
    BOOST_TEST(in.exit_code == 0, in.err);
    BOOST_TEST(in.out == ""); // not echoed back
    auto out = sandbox::run(box().ssh_argv("alice", sent(job, {"cat", "/tmp/blob"})), {}, 60s);
    BOOST_TEST(out.exit_code == 0, out.err);
    BOOST_TEST((out.out == blob), "the file made on the VM is the bytes sent");

    // ssh … connect J -- 'echo $HOME'
    auto home = sandbox::run(box().ssh_argv("alice", sent(job, {"echo $HOME"})), {}, 60s);
    BOOST_TEST(home.out == "/home/" + box().vm_user() + "\n", home.err);

    // Without `--`, and with a quote left for the VM's shell to refuse, as a direct ssh would.
    auto plain = sandbox::run(
        box().ssh_argv("alice", "connect " + std::to_string(job) + " printf '%s|' a\\ b \"c d\""),
        {}, 60s);
    BOOST_TEST(plain.out == "a b|c d|", plain.err);
    auto unclosed =
        sandbox::run(box().ssh_argv("alice", sent(job, {"echo", "\"unclosed"})), {}, 60s);
    BOOST_TEST(unclosed.exit_code == 2, unclosed.err); // the VM's shell's syntax error
    BOOST_TEST(!has(unclosed.err, "Usage:"));
}

BOOST_AUTO_TEST_CASE(tilde_tilde_dot_reaches_the_vm_instead_of_ending_the_session) {
    auto job = fresh_job();
    auto user = interactive(static_cast<int>(job));
    BOOST_REQUIRE_MESSAGE(user->expect("$ "), user->output());
    // The user's ssh makes `~~` a `~`: jobssh's own ssh must take `~.` as two keys for the
    // VM, not as its escape to disconnect.
    user->send("\r~~.");
    user->send("\x15"
               "echo alive-$((3+4))\r");
    BOOST_TEST(user->expect("alive-7", 20s), user->output());
    user->send("\r~~?\x15"
               "echo still-$((4+4))\r");
    BOOST_TEST(user->expect("still-8", 20s), user->output());
    user->send("exit 5\r");
    auto status = user->wait(30s);
    BOOST_REQUIRE(status);
    BOOST_TEST(*status == 5);
}

BOOST_AUTO_TEST_CASE(the_remote_command_s_stderr_and_status_255_pass_through_untouched) {
    auto job = fresh_job();
    held_open holder(job);
    auto result = sandbox::run(
        box().ssh_argv("alice", sent(job, {"echo", "to-stderr", ">&2;", "exit", "255"})), {}, 60s);
    BOOST_TEST(result.exit_code == 255);
    // Not taken for ssh's own failure: no words of ours after the command's.
    BOOST_TEST(result.err.ends_with("to-stderr\n"), result.err);
    BOOST_TEST(!has(result.err, "Please reach out"), result.err);
    BOOST_TEST(result.out == "");
}

BOOST_AUTO_TEST_CASE(ssh_s_words_about_a_changed_host_key_reach_the_operator_not_the_user) {
    auto job = box().add_job(R"({"owner": "alice", "owner_id": 1, "log": ["impostor VM, words"],
        "tasks": [{"name": "build", "log": ["built"]}], "pace_ms": 0, "result": "success",
        "shell": true, "deadline_s": 14400, "wrong_host_key": true})");
    auto result = sandbox::run(
        box().ssh_argv("alice", "connect " + std::to_string(job) + " -- echo reached"), {}, 60s);
    BOOST_TEST(result.exit_code == 69);
    BOOST_TEST(result.err.ends_with("The job's build VM did not present the host key it was "
                                    "given, so we did not connect to it.\n" +
                                    support_line(jobssh::load_config(box().config_file()))),
               result.err);
    for (const std::string& plumbing :
         std::vector<std::string>{"@@@", "IDENTIFICATION", "known_hosts", "Host key",
                                  box().state_dir().string(), "127.0.0.1"})
        BOOST_TEST(!has(result.err, plumbing), plumbing << " in: " << result.err);
    auto record = box().wait_for_syslog("event=vm_ssh");
    BOOST_REQUIRE(record.has_value());
    BOOST_TEST((has(*record, "IDENTIFICATION") || has(*record, "Host key verification")), *record);
}

BOOST_AUTO_TEST_CASE(a_shell_without_a_terminal_is_told_to_use_ssh_t_and_still_runs) {
    auto job = fresh_job();
    held_open holder(job);
    auto no_pty = sandbox::run(box().ssh_argv("alice", "connect " + std::to_string(job)),
                               std::string("echo $((6*7))\nexit 4\n"), 60s);
    BOOST_TEST(no_pty.exit_code == 4, no_pty.err);
    // stdout is the VM shell's alone; the banner goes beside the hint.
    BOOST_TEST(no_pty.out == "42\n");
    BOOST_TEST(has(no_pty.err, "Connected to build job #" + std::to_string(job)), no_pty.err);
    BOOST_TEST(has(no_pty.err, "No terminal: for an interactive shell use ssh -t ... connect " +
                                   std::to_string(job) + "\n"),
               no_pty.err);
    // One command needs no terminal, and a session with one is not told.
    auto one = sandbox::run(box().ssh_argv("alice", sent(job, {"true"})), {}, 60s);
    BOOST_TEST(one.exit_code == 0);
    BOOST_TEST(!has(one.err, "No terminal"), one.err);
    BOOST_TEST(!has(holder.user->output(), "No terminal"));
}

BOOST_AUTO_TEST_CASE(a_slow_runner_is_not_called_an_authentication_failure) {
    auto job = fresh_job();
    box().runner_fault(R"({"delay_ms": 30000, "match": "GET /job/)" + std::to_string(job) +
                       R"(/info"})");
    auto result = sandbox::run(box().ssh_argv("alice", "connect " + std::to_string(job)), {}, 60s);
    box().runner_fault("{}");
    BOOST_TEST(result.exit_code == 75);
    BOOST_TEST(result.err == "The build runner did not answer in time. Try again later.\n" +
                                 support_line(jobssh::load_config(box().config_file())),
               result.err);
    BOOST_TEST(!has(result.err, "authentication"));
}

BOOST_AUTO_TEST_CASE(the_user_s_locale_reaches_the_vm_as_with_a_direct_ssh) {
    auto job = fresh_job();
    held_open holder(job);
    auto argv =
        box().ssh_argv("alice", sent(job, {"echo", "\"$LANG|$LC_TIME|${LC_BOGUS-unset}\""}));
    argv.insert(argv.begin() + 1, {"-o", "SendEnv=LANG LC_*"});
    argv.insert(argv.begin(),
                {"env", "-u", "LC_ALL", "LANG=C.UTF-8", "LC_TIME=en_US.UTF-8", "LC_BOGUS=x"});
    auto result = sandbox::run(argv, {}, 60s);
    // LC_BOGUS is sent like any LC_*; the VM's sshd takes it as Debian's AcceptEnv LANG LC_* does.
    BOOST_TEST(result.out == "C.UTF-8|en_US.UTF-8|x\n", result.err);

    // TERM goes with the pty.
    holder.user->send("echo \"term=$TERM\"\r");
    BOOST_TEST(holder.user->expect("term=xterm\r\n"), holder.user->output());
}

BOOST_AUTO_TEST_CASE(scp_and_sftp_are_told_to_use_connect_with_tar) {
    auto job = fresh_job();
    auto ssh = box().ssh_argv("alice", "unused");
    // scp and sftp take ssh's options but -P for the port, then their own operands.
    std::vector<std::string> options(ssh.begin() + 1, ssh.end() - 3);
    std::replace(options.begin(), options.end(), std::string("-p"), std::string("-P"));
    auto local = world().scratch.path() / "upload.txt";
    std::ofstream(local) << "payload\n";
    auto target = box().login_user() + "@127.0.0.1";

    std::vector<std::vector<std::string>> clients;
    for (std::vector<std::string> scp : {std::vector<std::string>{"scp", "-O"}, {"scp"}}) {
        scp.insert(scp.end(), options.begin(), options.end());
        scp.insert(scp.end(), {local.string(), target + ":/tmp/x"});
        clients.push_back(scp);
    }
    std::vector<std::string> sftp{"sftp", "-b", "-"};
    sftp.insert(sftp.end(), options.begin(), options.end());
    sftp.push_back(target);
    clients.push_back(sftp);

    // Legacy scp shows our stderr; sftp, whose stderr sshd drops, is told in its protocol.
    // Each exits with its own status for it (jobssh's is 64): legacy scp 1, sftp 255.
    for (auto [client, status] : {std::pair{&clients[0], 1}, std::pair{&clients[2], 255}}) {
        auto result = sandbox::run(*client, "put " + local.string() + " /tmp/x\n", 60s);
        BOOST_TEST(result.exit_code == status, client->front() << " exited " << result.exit_code);
        BOOST_TEST(has(result.err, "scp, sftp and rsync cannot reach build VMs"), result.err);
        BOOST_TEST(has(result.err, "connect <job ID> -- tar c"), result.err);
        BOOST_TEST(!has(result.err, "subsystem request failed"), result.err);
    }
    // scp over sftp shows no server's words, only that it cannot.
    auto scp = sandbox::run(clients[1], {}, 60s);
    BOOST_TEST(scp.exit_code == 1);
    BOOST_TEST(has(scp.err, "Operation unsupported"), scp.err);
    BOOST_TEST(box().wait_for_syslog("outcome=file_transfer").has_value());
    BOOST_TEST(count(box().runner_requests(), "POST /job/" + std::to_string(job) + "/claim") == 0u);
}

BOOST_AUTO_TEST_CASE(a_separator_with_nothing_after_it_is_a_usage_error_that_costs_nothing) {
    auto job = fresh_job();
    for (const std::string& tail :
         {std::string(" --"), std::string(" -- "), std::string(" --\t")}) {
        auto result = sandbox::run(box().ssh_argv("alice", "connect " + std::to_string(job) + tail),
                                   std::string("echo ran\n"), 60s);
        BOOST_TEST(result.exit_code == 64, "[" << tail << "] " << result.err);
        BOOST_TEST(result.out == "", "[" << tail << "]");
        BOOST_TEST(result.err.starts_with("There is no command after --: put the command to run "
                                          "after it, or leave out -- for a shell.\n"),
                   result.err);
    }
    BOOST_TEST(count(box().runner_requests(), terminate_of(static_cast<int>(job))) == 0u);
    BOOST_TEST(box().vm_running(job));
}

BOOST_AUTO_TEST_CASE(the_host_key_of_a_vm_that_was_still_booting_is_pinned_once_it_answers) {
    // The runner learns the VM's host key as it boots (5 s after the job started), after
    // jobssh read the job's info: the key is asked again once the VM answers. An impostor
    // booting late is caught too, not let in unchecked.
    for (bool impostor : {false, true}) {
        auto job = box().add_job(std::string(R"({"owner": "alice", "owner_id": 1,
            "log": ["booting VM"], "tasks": [{"name": "build", "log": ["built"]}], "pace_ms": 0,
            "result": "success", "shell": true, "deadline_s": 14400, "vm_delay_ms": 5000,
            "wrong_host_key": )") +
                                 (impostor ? "true}" : "false}"));
        auto result = sandbox::run(
            box().ssh_argv("alice", "connect " + std::to_string(job) + " -- echo reached"), {},
            90s);
        BOOST_TEST(has(result.err, "Waiting for the build VM to come up..."), result.err);
        BOOST_TEST(result.exit_code == (impostor ? 69 : 0), result.err);
        BOOST_TEST(result.out == (impostor ? "" : "reached\n"));
        if (impostor)
            BOOST_TEST(has(result.err, "did not present the host key"), result.err);
        for (const auto& record : box().syslog_records())
            BOOST_TEST(!(has(record, "job=" + std::to_string(job) + " ") &&
                         has(record, "vm_host_key=unchecked")),
                       record);
    }
}

namespace {

// A VM's sshd as MaxStartups makes it when many sessions start at once: the first `resets`
// ssh clients are reset once they sent their identification (ssh then says
// `kex_exchange_identification: read: Connection reset by peer`), every later one is passed
// on to the VM's port. A connection that sends nothing (the wait for the VM's port) is let
// go uncounted.
class busy_vm_port {
public:
    busy_vm_port(std::uint16_t vm_port, int resets)
        : vm_port_(vm_port)
        , resets_(resets) {
        listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address = loopback(0);
        socklen_t size = sizeof address;
        BOOST_REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&address), size) == 0);
        BOOST_REQUIRE(::listen(listener_, 64) == 0);
        BOOST_REQUIRE(::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size) == 0);
        port_ = ntohs(address.sin_port);
        acceptor_ = std::thread([this] { accept_all(); });
    }
    ~busy_vm_port() {
        stopping_ = true;
        ::shutdown(listener_, SHUT_RDWR);
        acceptor_.join();
        for (auto& pipe : pipes_)
            pipe.join();
        ::close(listener_);
    }

    std::uint16_t port() const { return port_; }
    int reset() const { return reset_; }

private:
    static sockaddr_in loopback(std::uint16_t port) {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        address.sin_port = htons(port);
        return address;
    }

    void accept_all() {
        while (!stopping_) {
            int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
            if (client < 0)
                return;
            pipes_.emplace_back([this, client] { serve(client); });
        }
    }

    void serve(int client) {
        char buffer[16384];
        pollfd first{client, POLLIN, 0};
        ssize_t n = ::poll(&first, 1, 10000) == 1 ? ::read(client, buffer, sizeof buffer) : 0;
        if (n > 0 && reset_.fetch_add(1) < resets_) {
            linger abort{1, 0}; // close sends RST
            ::setsockopt(client, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
        } else if (n > 0) {
            --reset_;
            pass_on(client, std::string(buffer, static_cast<std::size_t>(n)));
        }
        ::close(client);
    }

    void pass_on(int client, const std::string& sent) {
        int vm = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address = loopback(vm_port_);
        if (::connect(vm, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
            ::write(vm, sent.data(), sent.size()) == static_cast<ssize_t>(sent.size())) {
            pollfd ends[2] = {{client, POLLIN, 0}, {vm, POLLIN, 0}};
            char buffer[16384];
            bool done = false;
            while (!stopping_ && !done && ::poll(ends, 2, 200) >= 0) {
                for (int i = 0; i < 2 && !done; ++i) {
                    if (!(ends[i].revents & (POLLIN | POLLHUP | POLLERR)))
                        continue;
                    ssize_t n = ::read(ends[i].fd, buffer, sizeof buffer);
                    done =
                        n <= 0 || ::write(ends[1 - i].fd, buffer, static_cast<std::size_t>(n)) != n;
                }
            }
        }
        ::close(vm);
    }

    std::uint16_t vm_port_;
    int resets_;
    int listener_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<int> reset_{0};
    std::thread acceptor_;
    std::vector<std::thread> pipes_;
};

} // namespace

BOOST_AUTO_TEST_CASE(a_vm_resetting_connections_before_the_key_exchange_is_busy_not_gone) {
    auto job = fresh_job();
    BOOST_REQUIRE(eventually([&] { return box().vm_running(job); }, 60s));
    busy_vm_port busy(box().vm_port(job), 2);
    box().set_job(job, R"({"port": )" + std::to_string(busy.port()) + "}");
    auto result = sandbox::run(box().ssh_argv("alice", sent(job, {"exit", "7"})), {}, 90s);
    BOOST_TEST(result.exit_code == 7, result.err);
    BOOST_TEST(result.out == "");
    BOOST_TEST(!has(result.err, "cannot be reached"), result.err);
    BOOST_TEST(busy.reset() == 2);
    BOOST_TEST(box()
                   .wait_for_syslog("job=" + std::to_string(job) +
                                    " user=alice event=vm_ssh_retry after_ms=200 ")
                   .has_value());
}

BOOST_AUTO_TEST_CASE(keys_typed_during_the_tail_phase_are_discarded_with_a_note_not_run_on_the_vm) {
    // A running job still stepping, driven by the test: the tail phase lasts until it says.
    auto job = box().add_job(R"({"owner": "alice", "owner_id": 1, "manual": true,
        "tasks": [{"name": "build", "log": []}], "shell": true, "deadline_s": 14400})");
    const auto id = std::to_string(job);
    BOOST_REQUIRE(eventually([&] { return box().vm_running(job); }, 60s));
    fs::create_directories(box().buildlogs() / id);
    std::ofstream(box().buildlogs() / id / "log") << "still building\n";
    auto user = interactive(static_cast<int>(job));
    BOOST_REQUIRE_MESSAGE(user->expect("still building"), user->output());
    // A whole line and a half one, echoed by the terminal while the log is followed.
    user->send("touch /tmp/typed-ahead\rtouch /tmp/half");
    BOOST_REQUIRE_MESSAGE(user->expect("touch /tmp/half"), user->output());
    box().set_job(job, R"({"task": 1})");
    BOOST_REQUIRE_MESSAGE(
        user->expect("jobssh: what was typed before the VM's shell started was discarded.\r\n"),
        user->output());
    BOOST_REQUIRE_MESSAGE(user->expect("$ "), user->output());
    user->send("echo \"files=$(ls /tmp/typed-ahead /tmp/half* 2>/dev/null | wc -l)\"\r");
    BOOST_TEST(user->expect("files=0\r\n"), user->output());
    user->send("exit\r");
    BOOST_TEST((user->wait(30s) == std::optional<int>(0)));
}

BOOST_AUTO_TEST_SUITE_END()
