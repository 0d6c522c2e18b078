// The README's examples, run exactly as printed against the sandbox world that
// scripts/sandbox --runners 0 starts (fixtures/data/jobs.json and users.json): every command
// line of a block that follows the marker comment `<!-- examples: test/e2e/test_readme.cpp
// … -->` is taken from README.md and given to `sh -c` as it stands there, and checked
// against what the README says of it (its comment, the output printed below it).
//
// What is not the README's own text, and how it is supplied:
// - The placeholder host `ci.example.org` of the first blocks: the `ssh` on the examples'
//   PATH is a wrapper that adds `-F <a config of this test>`, and that config names the
//   sandbox's front sshd (127.0.0.1 and its port) and alice's key for that host, since the
//   examples' user is the job's owner. Job 4211 is added to the world for them.
// - The tour's `…` placeholders, for the paths and port the sandbox prints: `…/keys/<user>`
//   becomes that user's key and `-p …` the front sshd's port; nothing else of a line changes.
// - The host key: the same config pins the front sshd's key (the sandbox's known_hosts), as
//   the lines the sandbox prints do with -o UserKnownHostsFile.
// - Each line runs in a scratch directory of its own test module (`> out.tar` lands there).
// A line that changes gets no checks here and fails the first test: an example is checked
// for what it claims, or the README and this file change together.
#define BOOST_TEST_MODULE readme
#include "pty_driver.hpp"
#include "resilience_helpers.hpp"
#include "sandbox_world.hpp"
#include "tail_output.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace jobssh::testing;

namespace {

const fs::path readme_file = fs::path(JOBSSH_SOURCE_DIR) / "README.md";
const std::string marker = "<!-- examples: test/e2e/test_readme.cpp";

// One command line of the README, as printed (without a `$ ` prompt), and the lines printed
// under it that are not commands: what its session shows and what is typed into it.
struct example {
    std::string line;
    std::vector<std::string> shown;
};

bool is_command(const std::string& text) {
    return text.starts_with("ssh ") || text.find(" | ssh ") != std::string::npos;
}

// The examples of every marked block: the indented lines after the marker, up to the first
// line that is neither indented nor blank.
std::vector<example> readme_examples() {
    std::ifstream in(readme_file);
    std::vector<example> found;
    bool in_block = false;
    for (std::string text; std::getline(in, text);) {
        if (text.starts_with(marker)) {
            in_block = true;
            continue;
        }
        if (!in_block)
            continue;
        if (text.empty())
            continue;
        if (!text.starts_with("    ")) {
            in_block = false;
            continue;
        }
        text.erase(0, 4);
        if (text.starts_with("$ "))
            text.erase(0, 2);
        if (is_command(text))
            found.push_back({text, {}});
        else if (!found.empty())
            found.back().shown.push_back(text);
    }
    return found;
}

// The exit status a line's comment gives ("…, exit 1", "the local ssh exits 3"), if any.
std::optional<int> documented_status(const std::string& text) {
    auto comment = text.find("  # ");
    if (comment == std::string::npos)
        return std::nullopt;
    std::smatch number;
    std::string words = text.substr(comment);
    if (!std::regex_search(words, number, std::regex(R"(\bexits? (\d+)\b)")))
        return std::nullopt;
    return std::stoi(number[1]);
}

// The words before a line's comment, trailing blanks gone: what a person types.
std::string typed_part(const std::string& text) {
    auto comment = text.find("  # ");
    std::string typed = text.substr(0, comment);
    return typed.substr(0, typed.find_last_not_of(' ') + 1);
}

// The jobs of fixtures/data/jobs.json and job 4211 of the first examples: alice's, finished,
// its VM up.
std::string tour_jobs() {
    auto jobs = boost::json::parse(read_file(JOBSSH_SOURCE_DIR "/fixtures/data/jobs.json"));
    jobs.at("jobs").as_array().push_back(boost::json::parse(
        R"({"id": 4211, "owner": "alice", "owner_id": 1, "log": ["[#4211] Booting"],
            "tasks": [{"name": "build", "log": ["+ make", "built"]}], "pace_ms": 0,
            "result": "success", "shell": true, "deadline_s": 14400})"));
    return boost::json::serialize(jobs);
}

// The sandbox of scripts/sandbox --runners 0, recordings on (the README's replay), jobssh's
// own linger (a person's sandbox: a one-command session leaves the VM for a next one), on
// the tour's jobs; an ssh_config and a work directory as the reader has them.
struct readme_world : sandbox_world {
    readme_world()
        : sandbox_world(tour_jobs(), read_file(JOBSSH_SOURCE_DIR "/fixtures/data/users.json"),
                        [](sandbox_options& options) {
                            options.recordings = true;
                            options.linger.reset();
                        }) {
        fs::create_directories(work);
        auto config =
            scratch.write("ssh_config", "Host ci.example.org\n"
                                        "  HostName 127.0.0.1\n"
                                        "  Port " +
                                            std::to_string(box->sshd_port()) + "\n" +
                                            "  IdentityFile " + box->private_key("alice").string() +
                                            "\n"
                                            "Host *\n"
                                            "  UserKnownHostsFile " +
                                            box->known_hosts().string() +
                                            "\n"
                                            "  StrictHostKeyChecking yes\n"
                                            "  IdentitiesOnly yes\n"
                                            "  BatchMode yes\n"
                                            "  ConnectTimeout 10\n");
        auto wrapper = scratch.write("bin/ssh", "#!/bin/sh\nexec /usr/bin/ssh -F '" +
                                                    config.string() + "' \"$@\"\n");
        fs::permissions(wrapper, fs::perms::owner_all);
        path = (scratch.path() / "bin").string() + ":" + std::getenv("PATH");
        fs::current_path(work);
    }

    // The line with the sandbox's paths and port for the tour's placeholders.
    std::string as_run(std::string line) const {
        for (const char* user : {"alice", "bob"}) {
            std::string placeholder = std::string("…/keys/") + user;
            if (auto at = line.find(placeholder); at != std::string::npos)
                line.replace(at, placeholder.size(), box->private_key(user).string());
        }
        const std::string port = "-p …";
        if (auto at = line.find(port); at != std::string::npos)
            line.replace(at, port.size(), "-p " + std::to_string(box->sshd_port()));
        return line;
    }

    std::vector<std::string> argv(const std::string& line) const {
        return {"env", "PATH=" + path, "sh", "-c", as_run(line)};
    }

    fs::path work = scratch.path() / "work";
    std::string path;
};

JOBSSH_MODULE_WORLD(readme_world);

const example& the_example(const std::string& line) {
    static const auto examples = readme_examples();
    for (const auto& e : examples)
        if (e.line == line)
            return e;
    throw std::runtime_error("README.md no longer has the example: " + line);
}

// Runs a line without a terminal, as printed; the status is the one its comment gives, when
// it gives one.
run_result run_as_printed(const std::string& line, std::chrono::seconds bound = 120s) {
    auto result = sandbox::run(world().argv(line), std::nullopt, bound);
    if (auto status = documented_status(line))
        BOOST_TEST(result.exit_code == *status, "exit " << result.exit_code << " from: " << line
                                                        << "\n"
                                                        << result.err);
    return result;
}

std::unique_ptr<pty_driver> on_a_terminal(const std::string& line) {
    return std::make_unique<pty_driver>(world().argv(line));
}

// The lines of a job of fixtures/data/jobs.json (or 4211's) as tail prints them, per log.
struct job_logs {
    std::string job;
    std::map<std::string, std::string> tasks;
    std::vector<std::string> task_names;
};

job_logs logs_of(std::int64_t id) {
    auto jobs = boost::json::parse(read_file(JOBSSH_SOURCE_DIR "/fixtures/data/jobs.json"));
    job_logs logs;
    for (const auto& job : jobs.at("jobs").as_array()) {
        if (job.at("id").to_number<std::int64_t>() != id)
            continue;
        for (const auto& line : job.at("log").as_array())
            logs.job += std::string(line.as_string()) + "\n";
        for (const auto& task : job.at("tasks").as_array()) {
            std::string name(task.at("name").as_string());
            logs.task_names.push_back(name);
            for (const auto& line : task.at("log").as_array())
                logs.tasks[name] += std::string(line.as_string()) + "\n";
        }
    }
    return logs;
}

void shows_every_log_of(const std::string& out, std::int64_t job) {
    auto logs = logs_of(job);
    BOOST_REQUIRE(!logs.task_names.empty());
    BOOST_TEST(lines_of(out, logs.task_names) == logs.job, out);
    for (const auto& name : logs.task_names)
        BOOST_TEST(lines_of(out, logs.task_names, name) == logs.tasks[name], name);
}

// The examples this file checks, as printed; the test below holds README.md to this list.
const std::vector<std::string> checked = {
    "ssh builds@ci.example.org tail 4211",
    "ssh -t builds@ci.example.org connect 4211",
    "ssh builds@ci.example.org connect 4211 -- make check   # one command; its exit status "
    "comes back",
    "ssh -t builds@ci.example.org watch 4211                # the live session's screen, "
    "read-only",
    "ssh -t builds@ci.example.org replay 4211 1             # a recorded session, played back",
    "ssh builds@ci.example.org connect 4211 -- tar c out > out.tar              # a directory, "
    "out",
    "ssh builds@ci.example.org connect 4211 -- 'tar x' < out.tar                # and in (into "
    "~build)",
    "ssh builds@ci.example.org connect 4211 -- cat out/test.log > test.log      # one file, out",
    "ssh builds@ci.example.org connect 4211 -- 'cat > fix.patch' < fix.patch    # and in",
    "ssh -i …/keys/alice -p … builds@127.0.0.1 tail 3     # a failed job: its whole log, exit 1",
    "ssh -i …/keys/alice -p … builds@127.0.0.1 tail 1     # a live job, followed to its end",
    "ssh -t -i …/keys/bob -p … builds@127.0.0.1 connect 4",
    "echo hi | ssh -i …/keys/alice -p … builds@127.0.0.1 connect 6 -- sh -c 'cat; exit 7'  # hi, "
    "exit 7",
    "ssh -i …/keys/alice -p … builds@127.0.0.1 tail 4     # bob's job: refused, exit 77",
};

std::string on_the_vm(std::int64_t job, const std::string& command) {
    auto result = sandbox::run(box().vm_ssh_argv(job, command), std::nullopt, 60s);
    BOOST_TEST(result.exit_code == 0, command << ": " << result.err);
    return result.out;
}

} // namespace

BOOST_AUTO_TEST_CASE(every_example_of_the_readme_is_one_this_test_checks) {
    std::vector<std::string> found;
    for (const auto& e : readme_examples())
        found.push_back(e.line);
    BOOST_TEST(found.size() == checked.size());
    for (const auto& line : found)
        BOOST_TEST((std::find(checked.begin(), checked.end(), line) != checked.end()),
                   "README.md's example is not checked here: " << line);
    for (const auto& line : checked)
        BOOST_TEST((std::find(found.begin(), found.end(), line) != found.end()),
                   "not among README.md's examples any more: " << line);
}

BOOST_AUTO_TEST_CASE(the_first_examples_follow_run_copy_watch_and_replay_as_they_say) {
    const std::int64_t job = 4211;
    BOOST_REQUIRE(eventually([&] { return box().vm_running(job); }, 120s));
    BOOST_REQUIRE(eventually(
        [&] { return sandbox::run(box().vm_ssh_argv(job, "true")).exit_code == 0; }, 60s));

    // tail: the finished job's every line, exit 0 for its success.
    auto tail = run_as_printed(checked[0]);
    BOOST_TEST(tail.exit_code == 0, tail.err);
    BOOST_TEST(lines_of(tail.out, {"build"}) == "[#4211] Booting\n", tail.out);
    BOOST_TEST(lines_of(tail.out, {"build"}, "build") == "+ make\nbuilt\n", tail.out);

    // One command: its exit status comes back, the one a direct ssh to the VM gets (the VM
    // has no make, so not 0: a status that did not come back would read 0).
    auto direct = sandbox::run(box().vm_ssh_argv(job, "make check"), std::nullopt, 60s);
    BOOST_REQUIRE(direct.exit_code != 0);
    auto make = run_as_printed(the_example(checked[2]).line);
    BOOST_TEST(make.exit_code == direct.exit_code, "exit " << make.exit_code << ", a direct ssh's "
                                                           << direct.exit_code << ": " << make.err);
    BOOST_TEST(make.out == direct.out);

    // Copying out and in: a directory as tar, one file with cat, each way.
    on_the_vm(job, "rm -rf out fix.patch && mkdir out && printf 'PASS: greets\\n' > out/test.log");
    auto tar_out = run_as_printed(checked[5]);
    BOOST_TEST(tar_out.exit_code == 0, tar_out.err);
    auto listed = sandbox::run({"tar", "tf", (world().work / "out.tar").string()});
    BOOST_TEST(listed.out == "out/\nout/test.log\n", listed.err);
    on_the_vm(job, "rm -rf out");
    auto tar_in = run_as_printed(checked[6]);
    BOOST_TEST(tar_in.exit_code == 0, tar_in.err);
    BOOST_TEST(on_the_vm(job, "cat ~/out/test.log") == "PASS: greets\n");
    auto cat_out = run_as_printed(checked[7]);
    BOOST_TEST(cat_out.exit_code == 0, cat_out.err);
    BOOST_TEST(read_file(world().work / "test.log") == "PASS: greets\n");
    std::ofstream(world().work / "fix.patch") << "--- a/greet.c\n+++ b/greet.c\n";
    auto cat_in = run_as_printed(checked[8]);
    BOOST_TEST(cat_in.exit_code == 0, cat_in.err);
    BOOST_TEST(on_the_vm(job, "cat ~/fix.patch") == "--- a/greet.c\n+++ b/greet.c\n");

    // A shell, watched read-only while it is live, then replayed.
    auto user = on_a_terminal(checked[1]);
    BOOST_REQUIRE_MESSAGE(user->expect("Connected to build job #4211"), user->output());
    BOOST_REQUIRE_MESSAGE(user->expect("$ "), user->output());
    auto watcher = on_a_terminal(the_example(checked[3]).line);
    BOOST_REQUIRE_MESSAGE(watcher->expect("read-only"), watcher->output());
    user->send("echo watched-$((6*7))\r");
    BOOST_TEST(watcher->expect("watched-42", 20s), watcher->output());
    watcher->send("touch /tmp/from-the-watcher\r");
    user->send("test -e /tmp/from-the-watcher; echo exists=$?\r");
    BOOST_TEST(user->expect("exists=1", 20s), user->output());
    watcher->send("q");
    BOOST_TEST((watcher->wait(20s) == 0), watcher->output());
    user->send("exit\r");
    BOOST_TEST((user->wait(30s) == 0), user->output());

    auto replay = on_a_terminal(the_example(checked[4]).line);
    BOOST_TEST((replay->wait(60s) == 0), replay->output());
    BOOST_TEST(replay->output().find("watched-42") != std::string::npos, replay->output());
}

BOOST_AUTO_TEST_CASE(the_tour_s_tails_show_whole_logs_with_the_statuses_it_gives) {
    auto failed = run_as_printed(checked[9]);
    BOOST_TEST(failed.exit_code == 1, "exit " << failed.exit_code << ": " << failed.err);
    shows_every_log_of(failed.out, 3);

    auto live = run_as_printed(checked[10], 300s);
    BOOST_TEST(live.exit_code == 0, "exit " << live.exit_code << ": " << live.err); // a success
    shows_every_log_of(live.out, 1);

    auto refused = run_as_printed(checked[13]);
    BOOST_TEST(refused.exit_code == 77);
    BOOST_TEST(refused.out == "");
    BOOST_TEST(refused.err == "You are not permitted to connect to this job.\n" +
                                  support_line(jobssh::load_config(box().config_file())),
               refused.err);
}

BOOST_AUTO_TEST_CASE(the_tour_s_connect_shows_what_is_printed_under_it_and_its_exit_status) {
    const auto& tour = the_example(checked[11]);
    BOOST_REQUIRE(eventually([&] { return box().vm_running(4); }, 120s));
    auto user = on_a_terminal(tour.line);
    bool typed = false;
    for (const auto& shown : tour.shown) {
        auto prompt = shown.find("$ ");
        if (prompt == std::string::npos) {
            BOOST_TEST(user->expect(shown, 60s), shown << " not in: " << user->output());
            continue;
        }
        // A prompt and what is typed at it: "build@jobssh-vm-4:~$ exit 3   # …".
        BOOST_TEST_REQUIRE(user->expect(shown.substr(0, prompt + 2), 60s), user->output());
        user->send(typed_part(shown.substr(prompt + 2)) + "\r");
        typed = true;
        auto status = user->wait(30s);
        BOOST_REQUIRE(status.has_value());
        BOOST_REQUIRE(documented_status(shown).has_value());
        BOOST_TEST(*status == *documented_status(shown), user->output());
    }
    BOOST_TEST(typed);

    auto piped = run_as_printed(checked[12]);
    BOOST_TEST(piped.exit_code == 7, "exit " << piped.exit_code << ": " << piped.err);
    BOOST_TEST(piped.out == "hi\n");
}
