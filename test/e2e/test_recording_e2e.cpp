// Recordings, `watch` and `replay` through the real chain: OpenSSH client → front sshd →
// jobssh-shell → the job's VM, driven on real ptys; recordings checked with asciinema.
#define BOOST_TEST_MODULE recording_e2e
#include "pty_driver.hpp"
#include "sandbox_world.hpp"

#include <boost/test/unit_test.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <jobssh/recording/asciicast.hpp>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace jobssh::testing;

namespace {

// Each session terminates its job's VM when it ends: one job per session.
std::string jobs_json() {
    std::string jobs = R"({"jobs": [)";
    for (int id = 1; id <= 8; ++id)
        jobs += std::string(id == 1 ? "" : ",") + R"({"id": )" + std::to_string(id) +
                R"(, "owner": "alice", "owner_id": 1, "log": ["recorded"],
                   "tasks": [{"name": "build", "log": ["built"]}], "pace_ms": 0,
                   "result": "success", "shell": true, "deadline_s": 14400})";
    return jobs + "]}";
}

const char* const users_json = R"({"users": [{"name": "alice", "id": 1}, {"name": "bob", "id": 2},
                                  {"name": "carol", "id": 3}]})";

} // namespace

JOBSSH_MODULE_WORLD(sandbox_world, jobs_json(), users_json,
                    [](sandbox_options& options) { options.recordings = true; });

namespace {

const fs::path& world_dir() {
    return world().scratch.path();
}

std::unique_ptr<pty_driver> session(const std::string& user, const std::string& command,
                                    unsigned short rows = 24, unsigned short columns = 80) {
    return std::make_unique<pty_driver>(box().ssh_argv(user, command, true), rows, columns);
}

// The job's recordings, oldest first.
std::vector<fs::path> recordings_of(int job) {
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& entry :
         fs::directory_iterator(box().recordings_dir() / std::to_string(job), ec))
        files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    return files;
}

struct recording {
    std::optional<jobssh::asciicast_header> header;
    std::vector<jobssh::asciicast_event> events;
    std::string output; // every output event's data, in order
};

recording parse(const fs::path& path) {
    recording parsed;
    std::istringstream lines(read_file(path));
    std::string line;
    std::getline(lines, line);
    parsed.header = jobssh::parse_header(line);
    while (std::getline(lines, line)) {
        auto event = jobssh::parse_event(line);
        BOOST_TEST_REQUIRE(event.has_value(), "not an event: " << line);
        if (event->code == 'o')
            parsed.output += event->data;
        parsed.events.push_back(std::move(*event));
    }
    return parsed;
}

struct played_back {
    std::optional<int> exit_code;
    std::string out;     // the output it replays, byte for byte
    std::string console; // what it said on its terminal
};

// What asciinema itself makes of the file. `asciinema cat` wants a terminal (it reads keys
// from /dev/tty), so it runs on a pty of ours, its stdout into a file: bytes untouched.
played_back asciinema_cat(const fs::path& path) {
    BOOST_TEST_REQUIRE(fs::exists("/usr/bin/asciinema"),
                       "asciinema is missing: scripts/setup installs it");
    fs::path out = world_dir() / "asciinema-cat.out";
    pty_driver player(
        {"sh", "-c", "asciinema cat \"$1\" > \"$2\"", "sh", path.string(), out.string()});
    played_back played;
    played.exit_code = player.wait(30s);
    played.out = read_file(out);
    played.console = player.output();
    return played;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_recorded_session_replays_to_the_screen_bytes_the_user_saw) {
    auto user = session("alice", "connect 1", 30, 100);
    BOOST_REQUIRE_MESSAGE(user->expect("This session is recorded."), user->output());
    BOOST_REQUIRE_MESSAGE(user->expect("$ "), user->output());
    user->send("printf 'r\\303\\251sum\\303\\251 %s\\n' $((6*7)) && echo $'\\e[1mbold\\e[0m'\r");
    BOOST_REQUIRE_MESSAGE(user->expect("résumé 42"), user->output());
    user->send("exit\r");
    BOOST_REQUIRE(user->wait(30s));

    auto files = recordings_of(1);
    BOOST_REQUIRE_EQUAL(files.size(), 1u);
    BOOST_TEST(((fs::status(files[0]).permissions() & fs::perms::all) ==
                (fs::perms::owner_read | fs::perms::owner_write)));
    auto recorded = parse(files[0]);
    BOOST_REQUIRE(recorded.header);
    BOOST_TEST(recorded.header->size.columns == 100);
    BOOST_TEST(recorded.header->size.rows == 30);
    BOOST_TEST(recorded.header->title == "build job #1");
    BOOST_TEST(recorded.output.find("résumé 42") != std::string::npos);
    BOOST_TEST(recorded.output.find("\x1b[1mbold\x1b[0m") != std::string::npos);
    // Everything the session showed, byte for byte, as the user's terminal got it.
    BOOST_TEST(user->output().find(recorded.output) != std::string::npos, recorded.output);

    auto played = asciinema_cat(files[0]);
    BOOST_TEST((played.exit_code == 0), played.console);
    BOOST_TEST(played.out == recorded.output);

    // And `replay` plays it to the same bytes.
    auto replay = session("alice", "replay 1 1 --speed 100");
    auto replayed = replay->wait(30s);
    BOOST_REQUIRE_MESSAGE(replayed == 0,
                          "replay: " << replayed.value_or(-1) << ": " << replay->output());
    BOOST_TEST(replay->output().find(recorded.output) != std::string::npos, replay->output());
}

BOOST_AUTO_TEST_CASE(resizes_are_recorded_as_resize_events) {
    auto user = session("alice", "connect 2");
    BOOST_REQUIRE_MESSAGE(user->expect("$ "), user->output());
    BOOST_TEST(user->resize_until_the_shell_sees_it(40, 120));
    user->send("exit\r");
    BOOST_REQUIRE(user->wait(30s));

    auto files = recordings_of(2);
    BOOST_REQUIRE_EQUAL(files.size(), 1u);
    auto recorded = parse(files[0]);
    bool landed = std::any_of(recorded.events.begin(), recorded.events.end(),
                              [](const auto& e) { return e.code == 'r' && e.data == "120x40"; });
    BOOST_TEST(landed, read_file(files[0]));
    auto played = asciinema_cat(files[0]);
    BOOST_TEST((played.exit_code == 0), played.console);
}

BOOST_AUTO_TEST_CASE(a_watcher_sees_a_typed_line_within_a_second_and_cannot_type_into_it) {
    auto user = session("alice", "connect 3");
    BOOST_REQUIRE_MESSAGE(user->expect("$ "), user->output());
    user->send("echo before-$((2+2))\r");
    BOOST_REQUIRE(user->expect("before-4"));

    auto watcher = session("alice", "watch 3");
    BOOST_REQUIRE_MESSAGE(watcher->expect("read-only; q or Ctrl-C leaves."), watcher->output());
    // The recent past first: the watcher is not dropped into the middle of nothing.
    BOOST_TEST(watcher->expect("before-4", 5s), watcher->output());

    user->send("echo typed-$((3*3))\r");
    BOOST_REQUIRE(user->expect("typed-9"));
    BOOST_TEST(watcher->expect("typed-9", 1s), watcher->output());

    watcher->send("echo intruder-$((6*7))\r");
    user->send("echo after-$((5+5))\r");
    BOOST_REQUIRE(user->expect("after-10"));
    BOOST_TEST(watcher->expect("after-10", 1s));
    BOOST_TEST(user->output().find("intruder") == std::string::npos, user->output());

    // A second watcher leaves with q; the first stays until the session ends.
    auto leaving = session("alice", "watch 3");
    BOOST_REQUIRE(leaving->expect("read-only"));
    leaving->send("q");
    BOOST_TEST((leaving->wait(20s) == 0));

    user->send("exit\r");
    BOOST_REQUIRE(user->wait(30s));
    BOOST_TEST(watcher->expect("The session ended.", 10s), watcher->output());
    BOOST_TEST((watcher->wait(20s) == 0));
}

BOOST_AUTO_TEST_CASE(a_session_that_is_not_recorded_can_still_be_watched) {
    // The same host with recordings off: jobssh-shell run as sshd runs it, as the login
    // user, with a config that has no `recordings`.
    std::string config = read_file(box().config_file());
    auto line = config.find("recordings = ");
    BOOST_REQUIRE(line != std::string::npos);
    config.erase(line, config.find('\n', line) + 1 - line);
    auto unrecorded = box().dir() / "config-unrecorded.ini";
    std::ofstream(unrecorded) << config;
    fs::permissions(unrecorded, fs::perms::owner_read | fs::perms::owner_write |
                                    fs::perms::group_read | fs::perms::others_read);
    pty_driver user({"runuser", "-u", box().login_user(), "--", "env",
                     "SSH_ORIGINAL_COMMAND=connect 6",
                     (box().dir() / "bin" / "jobssh-shell").string(), "--config",
                     unrecorded.string(), box().public_key_b64("alice")});
    BOOST_REQUIRE_MESSAGE(user.expect("$ "), user.output());
    BOOST_TEST(user.output().find("This session is recorded.") == std::string::npos);

    auto watcher = session("alice", "watch 6");
    BOOST_REQUIRE_MESSAGE(watcher->expect("read-only; q or Ctrl-C leaves."), watcher->output());
    user.send("echo unrecorded-$((4+4))\r");
    BOOST_REQUIRE(user.expect("unrecorded-8"));
    BOOST_TEST(watcher->expect("unrecorded-8", 1s), watcher->output());
    user.send("exit\r");
    BOOST_REQUIRE(user.wait(30s));
    BOOST_TEST(watcher->expect("The session ended.", 10s), watcher->output());
    BOOST_TEST(recordings_of(6).empty());
    BOOST_TEST(!fs::exists(box().state_dir() / "live" / "6")); // nothing left behind
}

BOOST_AUTO_TEST_CASE(a_watcher_of_a_long_session_is_shown_its_recent_screen_not_all_of_it) {
    auto user = session("alice", "connect 7");
    BOOST_REQUIRE_MESSAGE(user->expect("$ "), user->output());
    user->send("seq 1 300000; echo done-$((1+1))\r");
    BOOST_REQUIRE(user->expect("done-2", 60s));

    auto watcher = session("alice", "watch 7");
    BOOST_REQUIRE_MESSAGE(watcher->expect("read-only; q or Ctrl-C leaves."), watcher->output());
    BOOST_TEST(watcher->expect("299999\r\n300000\r\ndone-2", 5s));
    BOOST_TEST(watcher->output().size() < 100u * 1024, watcher->output().size());
    BOOST_TEST(watcher->output().find("\r\n1\r\n2\r\n") == std::string::npos);
    watcher->send("\x03");
    BOOST_TEST((watcher->wait(20s) == 0));
    user->send("exit\r");
    BOOST_REQUIRE(user->wait(30s));
}

BOOST_AUTO_TEST_CASE(watch_with_nothing_live_says_so_and_exits_66) {
    auto result = box().run_shell("alice", "watch 8");
    BOOST_TEST(result.exit_code == 66);
    BOOST_TEST(result.err == "No session of this job is live to watch.\n" +
                                 support_line(jobssh::load_config(box().config_file())),
               result.err);
}

BOOST_AUTO_TEST_CASE(
    another_user_is_refused_watch_and_replay_with_77_and_a_listed_viewer_is_let_in) {
    for (const char* command : {"watch 1", "replay 1", "replay 1 1"}) {
        auto refused = box().run_shell("bob", command);
        BOOST_TEST(refused.exit_code == 77, command);
        BOOST_TEST(refused.err.starts_with(
                       "You are not permitted to watch or replay this job's sessions.\n"),
                   refused.err);
        BOOST_TEST(refused.out.empty());
    }

    box().set_job(1, R"({"viewers": ["carol"]})");
    auto listed = box().run_shell("carol", "replay 1");
    BOOST_TEST(listed.exit_code == 0, listed.err);
    BOOST_TEST(listed.out.find("  1  ") != std::string::npos, listed.out);
    BOOST_TEST(listed.out.find("alice") != std::string::npos, listed.out);
    // Viewing is all a viewer may do.
    auto connect = box().run_shell("carol", "connect 1");
    BOOST_TEST(connect.exit_code == 77);
    BOOST_TEST(connect.err.starts_with("You are not permitted to connect to this job.\n"),
               connect.err);
    BOOST_TEST(box().run_shell("bob", "replay 1").exit_code == 77);
}

BOOST_AUTO_TEST_CASE(the_recording_of_a_hung_up_session_is_readable) {
    auto user = session("alice", "connect 4");
    BOOST_REQUIRE_MESSAGE(user->expect("$ "), user->output());
    user->send("echo hung-$((1+1))\r");
    BOOST_REQUIRE(user->expect("hung-2"));
    user->kill(SIGKILL); // the client goes: sshd hangs up on jobssh-shell
    BOOST_REQUIRE(box().wait_for_syslog("job=4 user=alice event=disconnect end=hangup", 30s));

    auto files = recordings_of(4);
    BOOST_REQUIRE_EQUAL(files.size(), 1u);
    auto played = asciinema_cat(files[0]);
    BOOST_TEST((played.exit_code == 0), played.console);
    BOOST_TEST(played.out.find("hung-2") != std::string::npos, played.out);
}

BOOST_AUTO_TEST_CASE(the_recording_of_a_sigkilled_session_is_readable_up_to_the_kill) {
    auto user = session("alice", "connect 5");
    BOOST_REQUIRE_MESSAGE(user->expect("$ "), user->output());
    user->send("echo killed-$((1+2))\r");
    BOOST_REQUIRE(user->expect("killed-3"));

    // The session's jobssh-shell: the one whose SSH_ORIGINAL_COMMAND is "connect 5".
    pid_t shell = -1;
    for (const auto& entry : fs::directory_iterator("/proc")) {
        std::ifstream environ(entry.path() / "environ");
        std::string text((std::istreambuf_iterator<char>(environ)), {});
        std::ifstream comm(entry.path() / "comm");
        std::string name;
        std::getline(comm, name);
        if (name == "jobssh-shell" &&
            text.find(std::string("SSH_ORIGINAL_COMMAND=connect 5") + '\0') != std::string::npos)
            shell = std::stoi(entry.path().filename().string());
    }
    BOOST_REQUIRE(shell > 0);
    ::kill(shell, SIGKILL);
    BOOST_TEST(user->wait(30s).has_value());

    auto files = recordings_of(5);
    BOOST_REQUIRE_EQUAL(files.size(), 1u);
    auto played = asciinema_cat(files[0]);
    BOOST_TEST((played.exit_code == 0), played.console);
    BOOST_TEST(played.out.find("killed-3") != std::string::npos, played.out);
    // Its watchers are not left waiting for a session that is gone.
    auto watch = box().run_shell("alice", "watch 5");
    BOOST_TEST(watch.exit_code == 66, watch.err);
}

BOOST_AUTO_TEST_CASE(one_command_on_a_pty_is_recorded_too) {
    auto user = session("alice", "connect 8 -- printf 'one-%s\\n' six");
    BOOST_REQUIRE_MESSAGE(user->expect("one-six"), user->output());
    BOOST_TEST((user->wait(30s) == 0));
    auto files = recordings_of(8);
    BOOST_REQUIRE_EQUAL(files.size(), 1u);
    BOOST_TEST(parse(files[0]).output.find("one-six") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_one_command_session_with_a_pty_is_recorded_and_says_so_on_stderr) {
    const char* job_json = R"({"owner": "alice", "owner_id": 1, "log": ["one command"],
        "tasks": [{"name": "build", "log": ["built"]}], "pace_ms": 0, "result": "success",
        "shell": true, "deadline_s": 14400})";
    // Without a pty there is no screen to record, and nothing is said.
    auto piped_job = static_cast<int>(box().add_job(job_json));
    auto piped = sandbox::run(
        box().ssh_argv("alice", "connect " + std::to_string(piped_job) + " -- echo piped"), {},
        60s);
    BOOST_TEST(piped.exit_code == 0, piped.err);
    BOOST_TEST(piped.out == "piped\n");
    BOOST_TEST(piped.err.find("recorded") == std::string::npos, piped.err);
    BOOST_TEST(recordings_of(piped_job).empty());

    auto job = static_cast<int>(box().add_job(job_json));
    auto user = session("alice", "connect " + std::to_string(job) + " -- echo one-command");
    auto status = user->wait(60s);
    BOOST_REQUIRE_MESSAGE(status.has_value(), user->output());
    BOOST_TEST(*status == 0, user->output());
    // Told before the command's output, and no banner (one-command mode).
    auto note = user->output().find("This session is recorded.\r\n");
    BOOST_TEST(note != std::string::npos, user->output());
    BOOST_TEST(note < user->output().find("one-command"), user->output());
    BOOST_TEST(user->output().find("Connected to build job") == std::string::npos, user->output());
    auto files = recordings_of(job);
    BOOST_REQUIRE_EQUAL(files.size(), 1u);
    BOOST_TEST(parse(files[0]).output.find("one-command") != std::string::npos);
}
