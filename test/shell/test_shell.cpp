// The real jobssh-shell binary against the fixtures' runner and meta (no VMs, no front
// sshd): every message and exit code, and `tail` of finished and running jobs.
#define BOOST_TEST_MODULE shell
#include "read_ready.hpp"
#include "resilience_helpers.hpp"
#include "sandbox_faults.hpp"
#include "sandbox_world.hpp"
#include "tail_output.hpp"
#include "wait_status.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <future>
#include <jobssh/common/config.hpp>
#include <map>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace jobssh::testing;

extern char** environ;

namespace {

// Job 1 and 2 end by themselves at once; 3 is bob's; 4 is written by the tests; 5 keeps a
// shell (status stays `running` after its last task).
const char* const jobs_json = R"({"jobs": [
  {"id": 1, "owner": "alice", "owner_id": 1, "log": ["cloning into repo", "résumé ✓"],
   "tasks": [{"name": "build", "log": ["make all", "done"]},
             {"name": "test", "log": ["ok 1 - works"]}],
   "pace_ms": 0, "result": "success"},
  {"id": 2, "owner": "alice", "owner_id": 1, "log": ["starting"],
   "tasks": [{"name": "build", "log": ["error: it broke"]}],
   "pace_ms": 0, "result": "failed"},
  {"id": 3, "owner": "bob", "owner_id": 2, "log": ["bob's secret"],
   "tasks": [{"name": "build", "log": ["x"]}], "pace_ms": 0, "result": "success"},
  {"id": 4, "owner": "alice", "owner_id": 1, "manual": true,
   "tasks": [{"name": "build", "log": []}, {"name": "test", "log": []}]},
  {"id": 5, "owner": "alice", "owner_id": 1, "log": ["shell job"],
   "tasks": [{"name": "build", "log": ["built"]}], "pace_ms": 0, "result": "success",
   "shell": true}
]})";

// One world for the tests that leave it as they found it; those that stop the runner or meta
// make their own.
JOBSSH_MODULE_WORLD(shell_world, jobs_json, alice_and_bob);

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::string lines_of(const std::string& output, const std::string& task = "") {
    return jobssh::testing::lines_of(output, {"build", "test"}, task);
}

// Waits (bounded) until the runner reports the job finished, so a tail sees it ended.
void wait_until_finished(const sandbox& world, std::int64_t job) {
    for (int i = 0; i < 200; ++i) {
        auto info = boost::json::parse(world.job_info_json(job)).as_object();
        if (info.at("status") != "running" ||
            info.at("task").to_number<std::int64_t>() == info.at("tasks").to_number<std::int64_t>())
            return;
        std::this_thread::sleep_for(50ms);
    }
    BOOST_FAIL("job " << job << " did not finish");
}

// jobssh-shell started by hand, for what run_shell cannot do: signals, a reader that goes
// away or does not read, stdout on a regular file.
class started_shell : public spawned_with_pipes {
public:
    // stdout_file empty: stdout is a pipe we hold. Started as sshd starts jobssh-shell: its
    // environment only SSH_ORIGINAL_COMMAND.
    started_shell(const sandbox& world, std::string_view command, const fs::path& stdout_file = {})
        : spawned_with_pipes(
              {JOBSSH_SHELL_PROGRAM, "--config", world.config_file().string(),
               world.public_key_b64("alice")},
              std::vector<std::string>{"SSH_ORIGINAL_COMMAND=" + std::string(command)},
              stdout_file) {
        BOOST_REQUIRE_MESSAGE(pid_ > 0, "jobssh-shell could not be started");
    }

    // Reads stdout until `text` has come (bounded by the test's patience).
    std::string read_until(std::string_view text) {
        std::string seen;
        for (int i = 0; i < 300 && seen.find(text) == std::string::npos; ++i) {
            pollfd ready{out_, POLLIN, 0};
            if (::poll(&ready, 1, 100) <= 0)
                continue;
            char buffer[4096];
            ssize_t n = ::read(out_, buffer, sizeof buffer);
            if (n <= 0)
                break;
            seen.append(buffer, static_cast<std::size_t>(n));
        }
        return seen;
    }

    // Everything on stdout so far, read until it holds `text` or stdout ends (bounded by
    // the test's patience); false when `text` did not come.
    bool shows(std::string_view text) {
        for (int i = 0; i < 300 && shown_.find(text) == std::string::npos; ++i)
            if (!read_more())
                break;
        return shown_.find(text) != std::string::npos;
    }
    const std::string& shown() const { return shown_; }
    // Reads stdout to its end (bounded as shows is).
    void read_to_end() {
        for (int i = 0; i < 300 && read_more(); ++i) {
        }
    }

    void close_stdout() {
        if (out_ >= 0)
            ::close(out_);
        out_ = -1;
    }

    // The exit status (128+N for signal N), or -1 when it did not end within 10 s.
    int wait() {
        for (int i = 0; i < 200; ++i) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                return jobssh::fixtures::exit_code_of(status);
            }
            std::this_thread::sleep_for(50ms);
        }
        return -1;
    }

    std::string stderr_text() {
        std::string text;
        char buffer[4096];
        ssize_t n;
        while ((n = ::read(err_, buffer, sizeof buffer)) > 0)
            text.append(buffer, static_cast<std::size_t>(n));
        return text;
    }

    // The most resident memory it ever had (VmHWM), in KiB, from /proc.
    long peak_resident_kib() const {
        std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
        std::string line;
        while (std::getline(status, line))
            if (line.starts_with("VmHWM:"))
                return std::atol(line.c_str() + 6);
        return -1;
    }

    // It has stopped for the reader: its stdout pipe is full and it sleeps, so it is not
    // reading on into memory either. Waited for with a bound, not guessed with a sleep.
    bool stalls_on_a_full_pipe(std::chrono::seconds bound = 20s) const {
        auto until = std::chrono::steady_clock::now() + bound;
        for (;;) {
            int queued = 0;
            ::ioctl(out_, FIONREAD, &queued);
            std::ifstream stat("/proc/" + std::to_string(pid_) + "/stat");
            std::string pid_field, name, state;
            stat >> pid_field >> name >> state;
            if (queued >= ::fcntl(out_, F_GETPIPE_SZ) && state == "S")
                return true;
            if (std::chrono::steady_clock::now() >= until)
                return false;
            std::this_thread::sleep_for(20ms);
        }
    }

private:
    // What came on stdout within 100 ms, added to shown_; false at its end.
    bool read_more() {
        return jobssh::testing::read_ready(out_, 100, shown_) !=
               jobssh::testing::read_outcome::ended;
    }

    std::string shown_;
};

// A job that runs until the test ends it; its log is written by the test.
std::int64_t add_manual_job(sandbox& world, std::int64_t id) {
    return world.add_job(R"({"id": )" + std::to_string(id) +
                         R"(, "owner": "alice", "owner_id": 1, "manual": true,
                            "tasks": [{"name": "build", "log": []}]})");
}

void append_to(const fs::path& file, std::string_view bytes) {
    fs::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::binary | std::ios::app);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A tail of a job that runs until the test ends it, once it has shown `first_line`.
std::unique_ptr<started_shell> tail_of_a_running_job(sandbox& world, std::int64_t id,
                                                     const std::string& first_line) {
    auto job = add_manual_job(world, id);
    append_to(world.buildlogs() / std::to_string(job) / "log", first_line);
    auto shell = std::make_unique<started_shell>(world, "tail " + std::to_string(job));
    BOOST_TEST(contains(shell->read_until(first_line), first_line));
    return shell;
}

// The tail of `job` ended by the reader's going (SIGPIPE), with nothing on stderr, and logged
// as docs/operators.md says: exit=128+N, the signal in detail.
void ended_quietly_by_sigpipe(started_shell& shell, std::int64_t job) {
    BOOST_TEST(shell.wait() == 128 + SIGPIPE);
    BOOST_TEST(shell.stderr_text() == "");
    auto record = box().wait_for_syslog("command=\"tail " + std::to_string(job) +
                                        "\" outcome=hangup exit=141 ");
    BOOST_REQUIRE(record.has_value());
    BOOST_TEST(record->ends_with(" detail=SIGPIPE"), *record);
}

} // namespace

// The fault cases read alike on purpose (inject a fault, run the shell, lift the fault,
// check the message and exit code): each is one row of the failure table as the user sees
// it, and `duplicates` lists their shape.
BOOST_AUTO_TEST_SUITE(messages_and_exit_codes)

BOOST_AUTO_TEST_CASE(help_prints_the_usage_and_exits_0) {
    auto result = box().run_shell("alice", "help");
    BOOST_TEST(result.exit_code == 0);
    BOOST_TEST(result.out.starts_with("Usage: ssh ... connect <job ID>\n"));
    BOOST_TEST(contains(result.out, "tail <job ID>"));
    // A shell on the VM needs a terminal: help says how to ask for one.
    BOOST_TEST(contains(result.out, "ssh -t ... connect <job ID>"));
    BOOST_TEST(result.err == "");
}

BOOST_AUTO_TEST_CASE(no_command_or_an_unknown_one_prints_the_usage_and_exits_64) {
    for (const char* command : {"", "frobnicate 3", "tail", "connect"}) {
        auto result = box().run_shell("alice", command);
        BOOST_TEST(result.exit_code == 64, "command: " << command);
        BOOST_TEST(result.err == "Usage: ssh ... connect <job ID>\n"
                                 "       ssh ... connect <job ID> [--] <command> [<argument>...]\n"
                                 "       ssh ... tail <job ID>\n"
                                 "       ssh ... watch <job ID> [<n>]\n"
                                 "       ssh ... replay <job ID> [<n>] [--speed <x>]\n"
                                 "For a shell on the VM, ask ssh for a terminal: ssh -t ... "
                                 "connect <job ID>\n" +
                                     support_line(world().cfg),
                   "command: " << command << "\n"
                               << result.err);
        BOOST_TEST(result.out == "");
    }
}

BOOST_AUTO_TEST_CASE(scp_and_rsync_are_told_to_copy_with_connect_and_tar_and_exit_64) {
    for (const char* command : {"scp -t /tmp/x", "scp -f out.tar", "rsync --server . /tmp"}) {
        auto result = box().run_shell("alice", command);
        BOOST_TEST(result.exit_code == 64, command);
        BOOST_TEST(result.err ==
                       "scp, sftp and rsync cannot reach build VMs. Copy files with tar or cat "
                       "instead:\n"
                       "  ssh ... connect <job ID> -- tar c <path> > files.tar\n"
                       "  ssh ... connect <job ID> -- 'tar x' < files.tar\n" +
                           support_line(world().cfg),
                   command << ": " << result.err);
        BOOST_TEST(result.out == "", command);
    }
}

BOOST_AUTO_TEST_CASE(an_sftp_client_is_told_in_its_own_protocol) {
    // SSH_FXP_INIT version 3, then SSH_FXP_REALPATH "." with request id 7: what sftp sends
    // first.
    using namespace std::string_literals;
    const std::string requests = "\0\0\0\5\1\0\0\0\3"s + "\0\0\0\12\20\0\0\0\7\0\0\0\1."s;
    auto result = box().run_shell("alice", "internal-sftp", requests);
    BOOST_TEST(result.exit_code == 64);
    // SSH_FXP_VERSION 3, then SSH_FXP_STATUS for request 7: SSH_FX_OP_UNSUPPORTED and our line.
    BOOST_TEST(result.out.starts_with("\0\0\0\5\2\0\0\0\3"s));
    auto status = result.out.substr(std::min<std::size_t>(9, result.out.size()));
    BOOST_TEST(status.substr(4, 9) == "\x65\0\0\0\7\0\0\0\x08"s);
    BOOST_TEST(contains(status, "scp, sftp and rsync cannot reach build VMs. Copy files with tar "
                                "or cat instead: ssh ... connect <job ID> -- tar c"));
    BOOST_TEST(!contains(status, "\n"));
    // A client that is gone, or speaks no sftp, ends it at once.
    for (const std::string& garbage :
         std::vector<std::string>{""s, "hello\n"s, "\xff\xff\xff\xff"s}) {
        auto gone = box().run_shell("alice", "/usr/lib/openssh/sftp-server", garbage);
        BOOST_TEST(gone.exit_code == 64);
        BOOST_TEST(gone.out == "");
    }
}

BOOST_AUTO_TEST_CASE(a_job_id_that_is_not_a_number_exits_65) {
    for (const char* command : {"tail abc", "tail -1", "connect 0x10", "tail 1e3"}) {
        auto result = box().run_shell("alice", command);
        BOOST_TEST(result.exit_code == 65, "command: " << command);
        BOOST_TEST(result.err.ends_with(support_line(world().cfg)));
    }
}

BOOST_AUTO_TEST_CASE(an_unknown_job_is_no_such_job_and_exits_66) {
    auto result = box().run_shell("alice", "tail 999");
    BOOST_TEST(result.exit_code == 66);
    BOOST_TEST(result.err == "No such job found.\n" + support_line(world().cfg));
    BOOST_TEST(result.out == "");
}

BOOST_AUTO_TEST_CASE(another_users_job_is_not_permitted_and_shows_nothing_of_it) {
    for (const char* command : {"tail 3", "connect 3"}) {
        auto result = box().run_shell("alice", command);
        BOOST_TEST(result.exit_code == 77);
        BOOST_TEST(result.err ==
                   "You are not permitted to connect to this job.\n" + support_line(world().cfg));
        BOOST_TEST(!contains(result.out, "bob's secret"));
    }
    // connect was refused before the job was claimed.
    for (const std::string& request : box().runner_requests())
        BOOST_TEST(!contains(request, "/job/3/claim"));
}

BOOST_AUTO_TEST_CASE(an_unknown_key_is_told_where_keys_are_added_and_exits_77) {
    auto result = box().run_shell("stranger", "tail 1");
    BOOST_TEST(result.exit_code == 77);
    BOOST_TEST(result.err ==
               "We don't recognize your SSH key. Make sure you've added it to your account.\n" +
                   world().cfg.meta_origin + "/keys\n" + support_line(world().cfg));
    BOOST_TEST(result.out == "");
}

BOOST_AUTO_TEST_CASE(an_unknown_key_hears_nothing_about_whether_the_job_exists) {
    auto result = box().run_shell("stranger", "tail 999");
    BOOST_TEST(result.exit_code == 77);
    BOOST_TEST(!contains(result.err, "No such job"));
}

BOOST_AUTO_TEST_CASE(meta_answering_500_is_a_temporary_failure_75) {
    auto result =
        shell_under_fault(box(), fault_of::meta, R"({"status": 500, "body": "oops"})", "tail 1");
    BOOST_TEST(result.exit_code == 75);
    BOOST_TEST(result.err ==
               "Temporary authentication failure. Try again later.\n" + support_line(world().cfg));
    BOOST_TEST(!contains(result.err, "oops"));
}

BOOST_AUTO_TEST_CASE(meta_answering_malformed_json_is_a_temporary_failure_75) {
    auto result = shell_under_fault(
        box(), fault_of::meta,
        R"({"status": 200, "body": "{\"id\": ", "content_type": "application/json"})", "tail 1");
    BOOST_TEST(result.exit_code == 75);
    BOOST_TEST(result.err == "Temporary authentication failure. Try again later.\n" +
                                 support_line(world().cfg),
               result.err);
}

BOOST_AUTO_TEST_CASE(meta_answering_after_the_timeout_is_a_temporary_failure_75) {
    // http-timeout is 1 s here: a shell that waited for meta's 30 s answer would be killed by
    // the 20 s bound and exit 137, not 75. The bound leaves a slow start (ASan, a loaded
    // machine) room, and is still well short of the delay.
    auto result = shell_under_fault(box(), fault_of::meta, R"({"delay_ms": 30000})", "tail 1", 20s);
    BOOST_TEST(result.exit_code == 75);
    BOOST_TEST(result.err ==
               "Temporary authentication failure. Try again later.\n" + support_line(world().cfg));
}

BOOST_AUTO_TEST_CASE(meta_dropping_the_connection_is_a_temporary_failure_75) {
    auto result = shell_under_fault(box(), fault_of::meta, R"({"close": true})", "tail 1");
    BOOST_TEST(result.exit_code == 75);
    BOOST_TEST(result.err ==
               "Temporary authentication failure. Try again later.\n" + support_line(world().cfg));
}

BOOST_AUTO_TEST_CASE(a_runner_answering_malformed_json_is_unavailable_69) {
    auto result = shell_under_fault(
        box(), fault_of::runner,
        R"({"status": 200, "body": "{\"deadline\": \"soon\"", "content_type": "application/json"})",
        "tail 1");
    BOOST_TEST(result.exit_code == 69);
    BOOST_TEST(result.err.ends_with(support_line(world().cfg)));
    BOOST_TEST(!contains(result.err, "deadline"));
    BOOST_TEST(!contains(result.err, "JSON"));
}

BOOST_AUTO_TEST_CASE(a_runner_answering_a_mistyped_field_is_unavailable_69) {
    box().set_job(1, R"({"task": "two"})");
    auto result = box().run_shell("alice", "tail 1");
    box().set_job(1, R"({"task": 2})");
    BOOST_TEST(result.exit_code == 69);
    BOOST_TEST(!contains(result.err, "task"));
}

BOOST_AUTO_TEST_CASE(a_slow_runner_is_a_temporary_failure_75_told_as_the_runner_s) {
    fault_for_a_while slow(box(), fault_of::runner, R"({"delay_ms": 30000})");
    // A shell waiting out the 30 s delay would be killed at 20 s (137).
    for (const char* command : {"tail 1", "connect 1", "connect 1 -- true"}) {
        auto result = box().run_shell("alice", command, std::nullopt, 20s);
        BOOST_TEST(result.exit_code == 75, command);
        BOOST_TEST(result.err == "The build runner did not answer in time. Try again later.\n" +
                                     support_line(world().cfg),
                   command);
        BOOST_TEST(!contains(result.err, "authentication"), command);
    }
}

BOOST_AUTO_TEST_SUITE_END()

// Each test its own world, since it stops the runner or meta.
struct own_world : shell_world {
    own_world()
        : shell_world(jobs_json, alice_and_bob) {}
};

BOOST_FIXTURE_TEST_SUITE(services_down, own_world)

BOOST_AUTO_TEST_CASE(meta_that_is_down_is_a_temporary_failure_75) {
    box->stop_meta();
    auto result = box->run_shell("alice", "tail 1");
    BOOST_TEST(result.exit_code == 75);
    BOOST_TEST(result.err ==
               "Temporary authentication failure. Try again later.\n" + support_line(cfg));
}

BOOST_AUTO_TEST_CASE(a_runner_that_is_down_is_unavailable_69) {
    box->stop_runner();
    auto result = box->run_shell("alice", "tail 1");
    BOOST_TEST(result.exit_code == 69);
    BOOST_TEST(result.err.ends_with(support_line(cfg)));
}

BOOST_AUTO_TEST_CASE(a_runner_that_goes_away_during_a_tail_ends_it_with_69) {
    auto shell = tail_of_a_running_job(*box, 40, "still going\n");
    box->stop_runner();
    int status = shell->wait();
    std::string err = shell->stderr_text();
    BOOST_TEST(status == 69, "stderr: " << err);
    BOOST_TEST(err == "The build runner cannot be reached right now. Try again later.\n" +
                          support_line(cfg),
               err);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tail)

BOOST_AUTO_TEST_CASE(tail_of_a_job_that_succeeded_prints_every_log_and_exits_0) {
    wait_until_finished(box(), 1);
    auto result = box().run_shell("alice", "tail 1");
    BOOST_TEST(result.exit_code == 0);
    BOOST_TEST(result.err == "");
    BOOST_TEST(lines_of(result.out) == "cloning into repo\nrésumé ✓\n");
    BOOST_TEST(lines_of(result.out, "build") == "make all\ndone\n");
    BOOST_TEST(lines_of(result.out, "test") == "ok 1 - works\n");
    BOOST_TEST(result.out.size() ==
               std::string("cloning into repo\nrésumé ✓\n[build] make all\n[build] done\n"
                           "[test] ok 1 - works\n")
                   .size());
}

BOOST_AUTO_TEST_CASE(tail_of_a_job_that_failed_prints_every_log_and_exits_1) {
    wait_until_finished(box(), 2);
    auto result = box().run_shell("alice", "tail 2");
    BOOST_TEST(result.exit_code == 1);
    BOOST_TEST(lines_of(result.out) == "starting\n");
    BOOST_TEST(lines_of(result.out, "build") == "error: it broke\n");
}

BOOST_AUTO_TEST_CASE(tail_of_a_shell_job_past_its_last_task_exits_0) {
    wait_until_finished(box(), 5);
    auto result = box().run_shell("alice", "tail 5");
    BOOST_TEST(result.exit_code == 0);
    BOOST_TEST(lines_of(result.out, "build") == "built\n");
}

BOOST_AUTO_TEST_CASE(tail_of_a_running_job_shows_every_byte_written_in_pieces_then_its_result) {
    // Each whole line is waited for on the tail's stdout before the next write; pieces of a
    // line go in back to back (whether the tail reads them apart cannot be seen from here:
    // test_log_follower drives lines and characters split across reads step by step).
    const fs::path job_dir = box().buildlogs() / "4";
    append_to(job_dir / "log", "job starts\n");
    started_shell tail(box(), "tail 4");
    BOOST_REQUIRE(tail.shows("job starts\n"));

    append_to(job_dir / "log", "a line split ");
    append_to(job_dir / "log", "across writes\n");
    BOOST_TEST(tail.shows("a line split across writes\n"), tail.shown());
    append_to(job_dir / "build" / "log", "caf\xC3");
    append_to(job_dir / "build" / "log", "\xA9 and a euro \xE2\x82");
    append_to(job_dir / "build" / "log", "\xAC\nbuild done\n");
    BOOST_TEST(tail.shows("[build] build done\n"), tail.shown());
    box().set_job(4, R"({"task": 1})");
    // A task that starts late, long after the tail began.
    append_to(job_dir / "test" / "log", "ok 1\nok ");
    BOOST_TEST(tail.shows("[test] ok 1\n"), tail.shown());
    append_to(job_dir / "test" / "log", "2\n");
    BOOST_TEST(tail.shows("[test] ok 2\n"), tail.shown());
    append_to(job_dir / "log", "job ends\n");
    BOOST_TEST(tail.shows("job ends\n"), tail.shown());
    box().set_job(4, R"({"task": 2, "status": "success"})");

    tail.read_to_end();
    BOOST_TEST(tail.wait() == 0);
    BOOST_TEST(tail.stderr_text() == "");
    const auto& out = tail.shown();
    BOOST_TEST(lines_of(out) == "job starts\na line split across writes\njob ends\n");
    BOOST_TEST(lines_of(out, "build") == "caf\xC3\xA9 and a euro \xE2\x82\xAC\nbuild done\n");
    BOOST_TEST(lines_of(out, "test") == "ok 1\nok 2\n");
}

BOOST_AUTO_TEST_CASE(a_task_log_truncated_and_rewritten_while_the_tail_was_stopped_is_shown_whole) {
    // Edges, input 2: 100 lines shown; jobssh-shell stopped; the log truncated and 300
    // lines written (three times the bytes); jobssh-shell continued.
    auto job = add_manual_job(box(), 62);
    const fs::path log = box().buildlogs() / std::to_string(job) / "build" / "log";
    auto numbered = [](const char* word, int count, const char* prefix) {
        std::string lines;
        char line[32];
        for (int n = 1; n <= count; ++n) {
            std::snprintf(line, sizeof line, "%s%s-%04d\n", prefix, word, n);
            lines += line;
        }
        return lines;
    };
    append_to(log, numbered("old", 100, ""));
    started_shell shell(box(), "tail " + std::to_string(job));
    BOOST_TEST(shell.read_until("old-0100\n") == numbered("old", 100, "[build] "));
    ::kill(shell.pid(), SIGSTOP);
    int status = 0;
    BOOST_REQUIRE(::waitpid(shell.pid(), &status, WUNTRACED) == shell.pid() && WIFSTOPPED(status));
    std::ofstream(log, std::ios::binary | std::ios::trunc) << numbered("new", 300, "");
    ::kill(shell.pid(), SIGCONT);
    BOOST_TEST(shell.read_until("new-0300\n") == numbered("new", 300, "[build] "));
    box().set_job(job, R"({"task": 1, "status": "success"})");
    BOOST_TEST(shell.wait() == 0);
    BOOST_TEST(shell.stderr_text() ==
               "jobssh: build/log was truncated; reading it again from the start.\n");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(the_user_goes_away)

BOOST_AUTO_TEST_CASE(sighup_or_sigterm_ends_a_tail_at_once_and_quietly) {
    for (int signal : {SIGHUP, SIGTERM}) {
        auto shell = tail_of_a_running_job(box(), 30 + signal, "waiting for the user\n");
        ::kill(shell->pid(), signal);
        BOOST_TEST(shell->wait() == 128 + signal);
        BOOST_TEST(shell->stderr_text() == "");
    }
}

BOOST_AUTO_TEST_CASE(a_reader_that_goes_away_ends_an_idle_tail_quietly) {
    auto shell = tail_of_a_running_job(box(), 60, "nothing more will come\n");
    // No more log lines: only noticing the closed pipe can end it.
    shell->close_stdout();
    ended_quietly_by_sigpipe(*shell, 60);
}

BOOST_AUTO_TEST_CASE(a_reader_that_goes_away_mid_write_ends_the_tail_quietly) {
    auto shell = tail_of_a_running_job(box(), 61, "first\n");
    shell->close_stdout();
    append_to(box().buildlogs() / "61" / "log", std::string(1 << 20, 'x') + "\n");
    ended_quietly_by_sigpipe(*shell, 61);
}

BOOST_AUTO_TEST_CASE(a_reader_that_does_not_read_does_not_make_the_shell_buffer_the_log) {
    auto job = add_manual_job(box(), 34);
    const fs::path log = box().buildlogs() / std::to_string(job) / "log";
    std::string line(1023, 'y');
    line += '\n';
    {
        std::string chunk;
        for (int i = 0; i < 1024; ++i)
            chunk += line;
        for (int i = 0; i < 128; ++i) // 128 MiB of log
            append_to(log, chunk);
    }
    started_shell shell(box(), "tail " + std::to_string(job));
    shell.read_until(line); // it is writing; now nobody reads
    BOOST_REQUIRE_MESSAGE(shell.stalls_on_a_full_pipe(), "the shell never waited on the reader");
    // The peak, not a sample: whatever it held on the way counts.
    long kib = shell.peak_resident_kib();
    BOOST_TEST_MESSAGE("peak resident with a stalled reader: " << kib << " KiB");
    BOOST_TEST(kib > 0);
    BOOST_TEST(kib < 64 * 1024, "jobssh-shell held " << kib << " KiB of a 128 MiB log");
    ::kill(shell.pid(), SIGTERM);
    BOOST_TEST(shell.wait() == 128 + SIGTERM);
}

BOOST_AUTO_TEST_CASE(tail_into_a_regular_file_writes_every_line) {
    wait_until_finished(box(), 1);
    jobssh::testing::scratch_dir scratch;
    const fs::path file = scratch.path() / "out.txt";
    int status;
    {
        started_shell shell(box(), "tail 1", file);
        status = shell.wait();
    }
    BOOST_TEST(status == 0);
    std::ifstream in(file, std::ios::binary);
    std::string written((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    BOOST_TEST(lines_of(written) == "cloning into repo\nrésumé ✓\n");
    BOOST_TEST(lines_of(written, "build") == "make all\ndone\n");
    BOOST_TEST(lines_of(written, "test") == "ok 1 - works\n");
}

BOOST_AUTO_TEST_SUITE_END()
