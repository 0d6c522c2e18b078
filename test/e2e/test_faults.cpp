// Faults of the runner and meta that test_shell does not already cover, and the kernel
// running out of inotify instances: for each, what the user reads, the exit code, and that
// nothing of the sandbox is left running. No VMs, no front sshd (test_kill has those).
#define BOOST_TEST_MODULE faults
#include "child_process.hpp"
#include "inotify_holder.hpp"
#include "resilience_helpers.hpp"
#include "sandbox_faults.hpp"
#include "sandbox_world.hpp"
#include "wait_status.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <fstream>
#include <grp.h>
#include <jobssh/common/config.hpp>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace jobssh::testing;

namespace {

// 1 is finished; 2 keeps a shell (no VM here) and its task failed.
const char* const jobs_json = R"({"jobs": [
  {"id": 1, "owner": "alice", "owner_id": 1, "log": ["one line"],
   "tasks": [{"name": "build", "log": ["built"]}], "pace_ms": 0, "result": "success"},
  {"id": 2, "owner": "alice", "owner_id": 1, "log": ["shell job"],
   "tasks": [{"name": "build", "log": ["error: it broke"]}], "pace_ms": 0, "result": "failed",
   "shell": true}
]})";

JOBSSH_MODULE_WORLD(shell_world, jobs_json, alice_and_bob);

const std::string runner_down = "The build runner cannot be reached right now. Try again later.\n";
const std::string meta_down = "Temporary authentication failure. Try again later.\n";

// One fault of the runner (or meta) for the length of one run of jobssh-shell.
run_result with_runner_fault(const std::string& fault, const std::string& command,
                             std::chrono::seconds bound = 30s) {
    return shell_under_fault(box(), fault_of::runner, fault, command, bound);
}

run_result with_meta_fault(const std::string& fault, const std::string& command = "tail 1",
                           std::chrono::seconds bound = 30s) {
    return shell_under_fault(box(), fault_of::meta, fault, command, bound);
}

// As docs/reliability.md defines it: no jobssh-shell of the sandbox and no ssh to a job's VM
// port (job 2's; job 1 has no VM).
bool nothing_left_running() {
    const auto vm_port = box().vm_port(2);
    return eventually(
        [&] { return shells_of(box().config_file()).empty() && vm_clients_of(vm_port).empty(); },
        10s);
}

constexpr std::uint64_t mib = 1024 * 1024;

// How much of the 100 MiB answer got out before jobssh hung up, once the server's write has
// ended (it ends when jobssh's side of the connection is gone).
std::optional<std::uint64_t>
sent_of_the_big_answer(std::vector<sandbox::answer_sent> (sandbox::*answers)() const) {
    std::optional<std::uint64_t> sent;
    eventually([&] {
        for (const auto& a : (box().*answers)())
            if (a.body >= 100 * mib)
                sent = a.sent;
        return sent.has_value();
    });
    return sent;
}

// A 100 MiB answer: a JSON object whose string field `field` never closes (its 512 KiB
// sent 200 times).
std::string endless_string_answer(const std::string& field) {
    return R"({"status": 200, "content_type": "application/json", "body": "{\")" + field +
           R"(\": \")" + std::string(512 * 1024, 'x') + R"(", "repeat": 200})";
}

// Of the 100 MiB answer, what got out before jobssh hung up shows it was not read to its end.
void the_big_answer_was_cut_short(std::vector<sandbox::answer_sent> (sandbox::*answers)() const,
                                  const std::string& server) {
    auto sent = sent_of_the_big_answer(answers);
    BOOST_REQUIRE_MESSAGE(sent, server << " never wrote its 100 MiB answer");
    BOOST_TEST_MESSAGE(server << " got out " << *sent << " bytes before jobssh hung up");
    BOOST_TEST(*sent < 20 * mib, *sent << " bytes of 100 MiB got out");
}

} // namespace

BOOST_AUTO_TEST_SUITE(runner)

BOOST_AUTO_TEST_CASE(a_runner_answering_404_for_a_job_is_no_such_job_66) {
    auto result = with_runner_fault(R"({"status": 404, "body": "404 not found"})", "tail 1");
    BOOST_TEST(result.exit_code == 66);
    BOOST_TEST(result.err == "No such job found.\n" + support_line(world().cfg));
    BOOST_TEST(result.out == "");
    BOOST_TEST(nothing_left_running());
}

BOOST_AUTO_TEST_CASE(a_runner_answering_500_is_unreachable_69_and_its_body_stays_private) {
    auto result = with_runner_fault(R"({"status": 500, "body": "Traceback: secret"})", "tail 1");
    BOOST_TEST(result.exit_code == 69);
    BOOST_TEST(result.err == runner_down + support_line(world().cfg));
    BOOST_TEST(result.out == "");
    BOOST_TEST(nothing_left_running());
}

BOOST_AUTO_TEST_CASE(a_runner_answering_truncated_json_is_unreachable_69) {
    auto whole = box().job_info_json(1);
    auto result = with_runner_fault(json_answer(200, whole.substr(0, whole.size() / 2)), "tail 1");
    BOOST_TEST(result.exit_code == 69);
    BOOST_TEST(result.err == runner_down + support_line(world().cfg));
    BOOST_TEST(nothing_left_running());
}

BOOST_AUTO_TEST_CASE(a_runner_answering_json_of_the_wrong_shape_is_unreachable_69) {
    for (const char* body : {"[]", "null", "42", R"({"status": 5})", R"({"deadline": []})",
                             R"({"deadline": 1, "manifest": "", "note": null, "owner_id": "1",
                                 "port": 22, "status": "running", "task": 0, "tasks": 0,
                                 "username": "alice"})"}) {
        auto result = with_runner_fault(json_answer(200, body), "tail 1");
        BOOST_TEST(result.exit_code == 69, "body: " << body);
        BOOST_TEST(result.err == runner_down + support_line(world().cfg), "body: " << body);
    }
    BOOST_TEST(nothing_left_running());
}

BOOST_AUTO_TEST_CASE(a_runner_answering_100_mib_is_unreachable_69_and_not_read_to_its_end) {
    // 100 MiB (512 KiB, 200 times: the control endpoint takes at most 1 MiB) of a JSON
    // string that never closes. What the runner got out before jobssh hung up is what shows
    // that it was not read to its end: jobssh stops at 1 MiB, and the socket buffers of
    // loopback take a few more: 1.3 MB got out here, and curl, reading the same answer to its
    // end, let out all 104,860,478 bytes.
    auto result = with_runner_fault(endless_string_answer("manifest"), "tail 1");
    BOOST_TEST(result.exit_code == 69);
    BOOST_TEST(result.err == runner_down + support_line(world().cfg));
    the_big_answer_was_cut_short(&sandbox::runner_answers, "the runner");
    BOOST_TEST(nothing_left_running());
}

BOOST_AUTO_TEST_CASE(a_runner_dropping_the_connection_is_unreachable_69) {
    auto result = with_runner_fault(R"({"close": true})", "tail 1");
    BOOST_TEST(result.exit_code == 69);
    BOOST_TEST(result.err == runner_down + support_line(world().cfg));
    BOOST_TEST(nothing_left_running());
}

BOOST_AUTO_TEST_CASE(tail_of_a_shell_job_whose_task_failed_exits_1_while_its_vm_would_stay) {
    BOOST_REQUIRE(eventually(
        [] { return box().job_info_json(2).find(R"("status":"failed")") != std::string::npos; }));
    auto result = box().run_shell("alice", "tail 2");
    BOOST_TEST(result.exit_code == 1);
    BOOST_TEST(result.out == "shell job\n[build] error: it broke\n");
    BOOST_TEST(result.err == "");
}

// Job 2 has no VM here (the sandbox starts none): the tests give it the port they need.
long requests_of_job_2(const std::string& what) {
    auto requests = box().runner_requests();
    return std::count(requests.begin(), requests.end(), "POST /job/2/" + what);
}

BOOST_AUTO_TEST_CASE(a_job_without_a_vm_is_told_so_at_once_69_and_nothing_is_claimed) {
    box().set_job(2, R"({"port": 0})");
    const auto claims = requests_of_job_2("claim");
    auto result = box().run_shell("alice", "connect 2");
    BOOST_TEST(result.exit_code == 69);
    BOOST_TEST(result.out == ""); // no banner: there is nothing to connect to
    BOOST_TEST(result.err ==
               "This job has no build VM to connect to.\n" + support_line(world().cfg));
    BOOST_TEST(requests_of_job_2("claim") == claims);
    BOOST_TEST(nothing_left_running());
}

BOOST_AUTO_TEST_CASE(an_ended_job_whose_vm_port_refuses_is_told_its_vm_is_gone_without_a_wait) {
    box().set_job(2, R"({"port": )" + std::to_string(jobssh::fixtures::pick_free_port()) + "}");
    const auto claims = requests_of_job_2("claim");
    auto result = box().run_shell("alice", "connect 2 -- echo reached");
    BOOST_TEST(result.exit_code == 69);
    BOOST_TEST(result.out == "");
    BOOST_TEST(result.err == "The job's build VM is gone: it is no longer running.\n" +
                                 support_line(world().cfg));
    BOOST_TEST(requests_of_job_2("claim") == claims);
    BOOST_TEST(nothing_left_running());
}

// A running job's VM may still boot: it is waited for, once told, then given up on.
BOOST_AUTO_TEST_CASE(a_vm_that_never_comes_up_is_unreachable_69_after_the_wait_and_left_as_found) {
    box().set_job(2, R"({"status": "running", "port": )" +
                         std::to_string(jobssh::fixtures::pick_free_port()) + "}");
    const auto claims = requests_of_job_2("claim");
    auto result = box().run_shell("alice", "connect 2 -- echo reached", std::nullopt, 90s);
    BOOST_TEST(result.exit_code == 69);
    BOOST_TEST(result.out == "");
    const std::string waiting = "Waiting for the build VM to come up...\n";
    auto first = result.err.find(waiting);
    BOOST_TEST(first != std::string::npos, result.err);
    BOOST_TEST(result.err.find(waiting, first + 1) == std::string::npos, result.err);
    BOOST_TEST(result.err.ends_with(
        "The job's build VM cannot be reached. It may have been terminated.\n" +
        support_line(world().cfg)));
    // Nothing was claimed for a VM that never answered, so nothing is terminated.
    BOOST_TEST(requests_of_job_2("claim") == claims);
    BOOST_TEST(requests_of_job_2("terminate") == 0);
    BOOST_TEST(nothing_left_running());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(meta)

BOOST_AUTO_TEST_CASE(meta_answering_404_for_a_known_key_is_an_unknown_key_77) {
    auto result = with_meta_fault(R"({"status": 404, "body": "{}"})");
    BOOST_TEST(result.exit_code == 77);
    BOOST_TEST(result.err.starts_with(
        "We don't recognize your SSH key. Make sure you've added it to your account.\n"));
    BOOST_TEST(result.err.ends_with(support_line(world().cfg)));
    BOOST_TEST(result.out == "");
    BOOST_TEST(nothing_left_running());
}

BOOST_AUTO_TEST_CASE(meta_answering_truncated_or_mistyped_json_is_a_temporary_failure_75) {
    for (const char* body :
         {R"({"id": 1, "owner": {"canonical_name": "~al)", "[]", R"({"id": 1, "owner": "alice"})",
          R"({"id": 1, "owner": {"canonical_name": "~alice", "name": 7}})"}) {
        auto result = with_meta_fault(json_answer(200, body));
        BOOST_TEST(result.exit_code == 75, "body: " << body);
        BOOST_TEST(result.err == meta_down + support_line(world().cfg), "body: " << body);
        BOOST_TEST(result.out == "");
    }
    BOOST_TEST(nothing_left_running());
}

BOOST_AUTO_TEST_CASE(meta_answering_100_mib_is_a_temporary_failure_75_and_not_read_to_its_end) {
    auto result = with_meta_fault(endless_string_answer("comment"));
    BOOST_TEST(result.exit_code == 75);
    BOOST_TEST(result.err == meta_down + support_line(world().cfg));
    the_big_answer_was_cut_short(&sandbox::meta_answers, "meta");
    BOOST_TEST(nothing_left_running());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(no_inotify_instance_left)

// A user id of nobody's, so that using up its inotify instances troubles no other test.
uid_t private_uid() {
    return static_cast<uid_t>(61000 + ::getpid() % 3000);
}

// Forks a process that runs as `uid` and may raise its descriptor limit first.
template <typename Child>
pid_t fork_as(uid_t uid, Child child) {
    pid_t pid = ::fork();
    if (pid != 0)
        return pid;
    ::setgroups(0, nullptr);
    if (::setgid(uid) != 0 || ::setuid(uid) != 0)
        ::_exit(120);
    child();
    ::_exit(121);
}

int waited_status(pid_t pid, std::chrono::seconds bound) {
    auto until = std::chrono::steady_clock::now() + bound;
    while (std::chrono::steady_clock::now() < until) {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid)
            return jobssh::fixtures::exit_code_of(status);
        std::this_thread::sleep_for(20ms);
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return -1;
}

BOOST_AUTO_TEST_CASE(a_tail_started_when_the_user_has_no_inotify_instance_left_shows_every_line) {
    BOOST_REQUIRE_MESSAGE(::geteuid() == 0, "needs root to run as a private user id");
    const uid_t uid = private_uid();

    // Somebody else of the same user holds every instance the kernel allows it.
    inotify_instance_holder holder(uid);
    BOOST_TEST_MESSAGE("holder made " << holder.instances()
                                      << " instances, then: " << std::strerror(holder.error()));
    BOOST_REQUIRE(holder.error() == EMFILE);
    // Every instance the user may have, not a descriptor limit of its own.
    BOOST_REQUIRE(holder.instances() == max_user_instances());

    // The same jobssh-shell, run as that user, on a job the test writes while it runs.
    jobssh::testing::scratch_dir scratch;
    fs::permissions(scratch.path(), fs::perms::all);
    auto config = scratch.write("config.ini", read_file(box().config_file()));
    fs::permissions(config, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
    const fs::path out_file = scratch.path() / "out";
    const fs::path err_file = scratch.path() / "err";
    auto job = box().add_job(R"({"id": 50, "owner": "alice", "owner_id": 1, "manual": true,
                               "tasks": [{"name": "build", "log": []}]})");
    const fs::path job_dir = box().buildlogs() / std::to_string(job);
    fs::create_directories(job_dir);
    std::ofstream(job_dir / "log") << "before the tail\n";

    // Everything the child needs is made before the fork: it only makes system calls.
    std::string key = box().public_key_b64("alice");
    std::string program = JOBSSH_SHELL_PROGRAM;
    std::string config_text = config.string();
    std::string command = "SSH_ORIGINAL_COMMAND=tail " + std::to_string(job);
    char* argv[] = {program.data(), const_cast<char*>("--config"), config_text.data(), key.data(),
                    nullptr};
    char* envp[] = {command.data(), nullptr};
    pid_t shell = fork_as(uid, [&] {
        int out = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int in = ::open("/dev/null", O_RDONLY);
        if (out < 0 || err < 0 || in < 0)
            ::_exit(122);
        ::dup2(in, 0);
        ::dup2(out, 1);
        ::dup2(err, 2);
        ::execve(argv[0], argv, envp);
    });
    BOOST_REQUIRE(
        eventually([&] { return read_file(out_file).find("before") != std::string::npos; }, 10s));
    {
        std::ofstream(job_dir / "log", std::ios::app) << "while it ran\n";
        fs::create_directories(job_dir / "build");
        std::ofstream(job_dir / "build" / "log") << "a task that started late\n";
    }
    // Shown while the job still runs, by the re-reading that stands in for inotify: the job
    // ends only once they are out, so the drain at its end cannot be what showed them.
    BOOST_TEST(eventually(
        [&] { return read_file(out_file).find("[build] a task") != std::string::npos; }, 20s));
    box().set_job(job, R"({"status": "success", "task": 1, "tasks": 1})");
    int status = waited_status(shell, 30s);

    BOOST_TEST(status == 0, "stderr: " << read_file(err_file));
    BOOST_TEST(read_file(out_file) ==
               "before the tail\nwhile it ran\n[build] a task that started late\n");
    BOOST_TEST(read_file(err_file) == "");
    // jobssh took the fallback, and told the operator why.
    BOOST_TEST(box()
                   .wait_for_syslog("inotify_init1: Too many open files; following the logs by "
                                    "re-reading them")
                   .has_value());
    BOOST_TEST(nothing_left_running());
    BOOST_TEST(jobssh::testing::processes_with(config.string()).empty());
}

BOOST_AUTO_TEST_SUITE_END()
