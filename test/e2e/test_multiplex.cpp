// Multiplexed connections (docs/design.md, "Fewer handshakes") under the real chain: OpenSSH
// client → front sshd → jobssh-shell → the job's VM (a Docker container). The job's first
// session opens one master connection to the VM, later sessions ride it; the VM's sshd log
// counts the connections that logged in ("Accepted publickey"), one per handshake. A master
// killed or hung is replaced unseen; the job's last session, however it ends, leaves no master
// and no socket; [jobssh] multiplex = no is one connection per session, as before.
#define BOOST_TEST_MODULE multiplex
#include "pty_driver.hpp"
#include "resilience_helpers.hpp"
#include "sandbox_world.hpp"

#include <boost/test/unit_test.hpp>
#include <csignal>
#include <filesystem>
#include <jobssh/connect/session_registry.hpp>
#include <random>
#include <string>
#include <thread>

using namespace jobssh::testing;
using jobssh::testing::pty_driver;

namespace {

// Jobs done stepping at once, each with its VM; a VM lingers 30 s after a one-command session,
// so that the next one finds its master.
const char* const jobs_json = R"({"jobs": [
  {"id": 1, "owner": "alice", "owner_id": 1, "log": ["two sessions"], "pace_ms": 0, "shell": true},
  {"id": 2, "owner": "alice", "owner_id": 1, "log": ["bytes"], "pace_ms": 0, "shell": true},
  {"id": 3, "owner": "alice", "owner_id": 1, "log": ["killed master"], "pace_ms": 0, "shell": true},
  {"id": 4, "owner": "alice", "owner_id": 1, "log": ["hung master"], "pace_ms": 0, "shell": true},
  {"id": 5, "owner": "alice", "owner_id": 1, "log": ["killed session"], "pace_ms": 0, "shell": true},
  {"id": 6, "owner": "alice", "owner_id": 1, "log": ["at once"], "pace_ms": 0, "shell": true},
  {"id": 7, "owner": "alice", "owner_id": 1, "log": ["linger"], "pace_ms": 0, "shell": true}
]})";

} // namespace

JOBSSH_MODULE_WORLD(sandbox_world, jobs_json, alice_alone,
                    [](sandbox_options& options) { options.linger = 30s; });

namespace {

// The connections that logged in to the job's VM, by its sshd's log.
std::size_t logins_to_vm(sandbox& world, std::int64_t job) {
    auto logs = sandbox::run({"docker", "logs", world.vm_name(job)}, std::nullopt, 30s);
    return logins_in(logs.out + logs.err);
}

fs::path socket_of(std::int64_t job) {
    auto socket = jobssh::job_master_socket(box().state_dir(), job);
    BOOST_REQUIRE(socket.has_value());
    return *socket;
}

// Master processes of the job: ssh whose command line names its socket.
std::vector<process_entry> masters_of(std::int64_t job) {
    return processes_with(" " + socket_of(job).string() + " ");
}

pid_t master_pid(std::int64_t job) {
    BOOST_REQUIRE(eventually([&] { return masters_of(job).size() == 1u; }));
    return masters_of(job).front().pid;
}

bool no_state_of(std::int64_t job) {
    return !fs::exists(box().state_dir() / ("job-" + std::to_string(job)));
}

run_result one_command(std::int64_t job, const std::string& command,
                       std::optional<std::string> input = std::nullopt) {
    return sandbox::run(
        box().ssh_argv("alice", "connect " + std::to_string(job) + " -- " + command),
        std::move(input), 60s);
}

// `result` is a session's that exited with `code` after printing `out`, and `err` on stderr
// when given.
void ended_with(const run_result& result, int code, const std::string& out,
                const std::optional<std::string>& err = std::nullopt) {
    BOOST_TEST(result.exit_code == code, result.err);
    BOOST_TEST(result.out == out);
    if (err)
        BOOST_TEST(result.err == *err);
}

// The master a first session of the job made, once its VM runs.
pid_t master_made_by_a_session(std::int64_t job) {
    BOOST_REQUIRE(eventually([&] { return box().vm_running(job); }, 60s));
    BOOST_TEST(one_command(job, "true").exit_code == 0);
    return master_pid(job);
}

// The job's last session ended: its VM goes, and with it the master, its socket and files.
void nothing_left_of(std::int64_t job) {
    BOOST_TEST(eventually([&] { return !box().vm_running(job); }, 60s));
    BOOST_TEST(eventually([&] { return masters_of(job).empty(); }));
    BOOST_TEST(vm_clients_of(box().vm_port(job)).empty());
    BOOST_TEST(!fs::exists(socket_of(job)));
    BOOST_TEST(eventually([&] { return no_state_of(job); }));
}

} // namespace

BOOST_AUTO_TEST_CASE(a_second_session_of_a_job_opens_no_new_connection_to_its_vm) {
    BOOST_REQUIRE(eventually([] { return box().vm_running(1); }, 60s));
    auto first = one_command(1, "echo one");
    ended_with(first, 0, "one\n");
    BOOST_TEST(logins_to_vm(box(), 1) == 1u);
    BOOST_TEST(fs::exists(socket_of(1)));

    auto second = one_command(1, "echo two");
    ended_with(second, 0, "two\n", "");
    // A shell while the VM lingers, and a command beside it: still the one connection.
    pty_driver user(box().ssh_argv("alice", "connect 1", true));
    BOOST_REQUIRE_MESSAGE(user.expect("$ "), user.output());
    auto beside = one_command(1, "echo beside");
    BOOST_TEST(beside.out == "beside\n", beside.err);
    BOOST_TEST(logins_to_vm(box(), 1) == 1u);
    BOOST_TEST(masters_of(1).size() == 1u);

    // The shell's logout is the job's last session: the VM and its master go.
    user.send("exit\r");
    auto status = user.wait(30s);
    BOOST_REQUIRE(status.has_value());
    BOOST_TEST(*status == 0);
    nothing_left_of(1);
}

BOOST_AUTO_TEST_CASE(
    one_command_through_the_master_is_byte_exact_both_ways_and_its_status_comes_back) {
    BOOST_REQUIRE(eventually([] { return box().vm_running(2); }, 60s));
    BOOST_TEST(one_command(2, "true").exit_code == 0);
    std::mt19937 random(2);
    std::string input(1 << 20, '\0');
    for (auto& byte : input)
        byte = static_cast<char>(random());
    auto echoed = one_command(2, "cat; exit 7", input);
    BOOST_TEST(echoed.exit_code == 7, echoed.err);
    BOOST_TEST((echoed.out == input),
               "stdout differs from stdin: " << echoed.out.size() << " bytes of " << input.size());
    BOOST_TEST(echoed.err.empty());
    auto quiet = one_command(2, "sh -c 'echo out; echo err >&2; exit 3'");
    ended_with(quiet, 3, "out\n", "err\n");
    BOOST_TEST(logins_to_vm(box(), 2) == 1u);
}

BOOST_AUTO_TEST_CASE(a_master_killed_mid_way_is_replaced_and_the_next_session_sees_no_error) {
    pid_t killed = master_made_by_a_session(3);
    ::kill(killed, SIGKILL);
    BOOST_REQUIRE(eventually([&] { return masters_of(3).empty(); }));
    BOOST_TEST(fs::exists(socket_of(3))); // left behind, as by any killed master

    auto next = one_command(3, "echo again");
    ended_with(next, 0, "again\n", "");
    BOOST_TEST(
        box().wait_for_syslog("job=3 user=alice event=multiplex master=replaced").has_value());
    BOOST_TEST(master_pid(3) != killed);
    // The replacement's handshake, and no session of its own besides.
    BOOST_TEST(logins_to_vm(box(), 3) == 2u);
    BOOST_TEST(one_command(3, "true").exit_code == 0);
    BOOST_TEST(logins_to_vm(box(), 3) == 2u);
}

BOOST_AUTO_TEST_CASE(a_hung_master_is_stopped_and_replaced_and_the_next_session_sees_no_error) {
    pid_t hung = master_made_by_a_session(4);
    ::kill(hung, SIGSTOP);

    auto next = one_command(4, "echo again");
    ended_with(next, 0, "again\n", "");
    // The stopped master was ended (gone, or a zombie its reaper has not waited for yet).
    auto ended = [&] {
        auto stat = read_proc_file("/proc/" + std::to_string(hung) + "/stat");
        return stat.empty() || stat.find(") Z ") != std::string::npos;
    };
    BOOST_TEST(eventually(ended));
    BOOST_TEST(masters_of(4).size() == 1u);
    BOOST_TEST(logins_to_vm(box(), 4) == 2u);
}

BOOST_AUTO_TEST_CASE(a_sigkilled_last_session_is_cleaned_up_with_its_master) {
    BOOST_REQUIRE(eventually([] { return box().vm_running(5); }, 60s));
    pty_driver user(box().ssh_argv("alice", "connect 5", true));
    BOOST_REQUIRE_MESSAGE(user.expect("$ "), user.output());
    BOOST_TEST(masters_of(5).size() == 1u);
    auto shells = shells_of(box().config_file());
    BOOST_REQUIRE(shells.size() == 1u);
    ::kill(shells.front().pid, SIGKILL);
    // Its watcher leaves for it: the job's last interactive session, so the VM goes.
    BOOST_TEST(box()
                   .wait_for_syslog("job=5 user=alice event=terminate reason=session_killed", 60s)
                   .has_value());
    nothing_left_of(5);
}

BOOST_AUTO_TEST_CASE(two_sessions_starting_at_once_share_one_master) {
    BOOST_REQUIRE(eventually([] { return box().vm_running(6); }, 60s));
    run_result a, b;
    std::thread other([&] { b = one_command(6, "echo b"); });
    a = one_command(6, "echo a");
    other.join();
    ended_with(a, 0, "a\n");
    ended_with(b, 0, "b\n");
    BOOST_TEST(logins_to_vm(box(), 6) == 1u);
}

BOOST_AUTO_TEST_CASE(the_master_is_kept_through_the_linger_and_goes_when_it_is_over) {
    BOOST_REQUIRE(eventually([] { return box().vm_running(7); }, 60s));
    BOOST_TEST(one_command(7, "true").exit_code == 0);
    BOOST_REQUIRE(box().wait_for_syslog("job=7 user=alice event=linger").has_value());
    BOOST_TEST(masters_of(7).size() == 1u);
    BOOST_TEST(box()
                   .wait_for_syslog("job=7 user=alice event=terminate reason=linger_over", 60s)
                   .has_value());
    nothing_left_of(7);
}

BOOST_AUTO_TEST_CASE(with_multiplex_off_every_session_opens_its_own_connection) {
    sandbox_world world(R"({"jobs": [
      {"id": 1, "owner": "alice", "owner_id": 1, "log": ["off"], "pace_ms": 0, "shell": true}
    ]})",
                        alice_alone, [](sandbox_options& options) {
                            options.linger = 30s;
                            options.jobssh_config = "multiplex = no\n";
                        });
    sandbox& off = *world.box;
    BOOST_REQUIRE(eventually([&] { return off.vm_running(1); }, 60s));
    for (const char* word : {"one", "two"}) {
        auto result = sandbox::run(off.ssh_argv("alice", std::string("connect 1 -- echo ") + word),
                                   std::nullopt, 60s);
        ended_with(result, 0, std::string(word) + "\n");
    }
    BOOST_TEST(logins_to_vm(off, 1) == 2u);
    auto socket = jobssh::job_master_socket(off.state_dir(), 1);
    BOOST_REQUIRE(socket.has_value());
    BOOST_TEST(!fs::exists(*socket));
    BOOST_TEST(processes_with(" " + socket->string() + " ").empty());
}
