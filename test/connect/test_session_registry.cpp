#define BOOST_TEST_MODULE session_registry
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <jobssh/connect/session_registry.hpp>
#include <memory>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using jobssh::session_kind;
using jobssh::session_registration;
using jobssh::vm_verdict;

namespace {

const std::string target = JOBSSH_TEST_TARGET;

struct state_dir {
    fs::path path;
    state_dir() {
        char name[] = "/tmp/jobssh-registry-XXXXXX";
        BOOST_REQUIRE(::mkdtemp(name));
        path = name;
    }
    ~state_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

// A session held by another process: the test target's `hold` command.
class holder {
public:
    holder(const fs::path& dir, jobssh::job_id job, std::string kind = "interactive",
           std::string log = "") {
        int to_child[2], from_child[2];
        BOOST_REQUIRE(::pipe2(to_child, O_CLOEXEC) == 0);
        BOOST_REQUIRE(::pipe2(from_child, O_CLOEXEC) == 0);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, to_child[0], 0);
        posix_spawn_file_actions_adddup2(&actions, from_child[1], 1);
        std::string job_text = std::to_string(job), dir_text = dir.string();
        char* argv[] = {const_cast<char*>(target.c_str()),
                        const_cast<char*>("hold"),
                        job_text.data(),
                        dir_text.data(),
                        kind.data(),
                        log.empty() ? nullptr : log.data(),
                        nullptr};
        BOOST_REQUIRE(::posix_spawn(&pid_, target.c_str(), &actions, nullptr, argv, environ) == 0);
        posix_spawn_file_actions_destroy(&actions);
        ::close(to_child[0]);
        ::close(from_child[1]);
        stdin_ = to_child[1];
        stdout_ = from_child[0];
        BOOST_REQUIRE(read_line() == "held");
    }
    ~holder() {
        if (stdin_ >= 0)
            ::close(stdin_);
        ::close(stdout_);
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }

    void start_leaving() {
        ::close(stdin_);
        stdin_ = -1;
    }
    // "terminate", "linger" or "keep".
    std::string verdict() {
        auto line = read_line();
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
        return line;
    }
    void kill_hard() {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

private:
    std::string read_line() {
        std::string line;
        char c;
        pollfd p{stdout_, POLLIN, 0};
        while (::poll(&p, 1, 20000) == 1 && ::read(stdout_, &c, 1) == 1 && c != '\n')
            line += c;
        return line;
    }
    pid_t pid_ = -1;
    int stdin_ = -1;
    int stdout_ = -1;
};

bool empty_directory(const fs::path& dir) {
    return fs::is_empty(dir);
}

vm_verdict leave(session_registration& session, bool can_linger = true) {
    return session.leave(can_linger).verdict;
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// A state directory that belongs to the login user (nobody here), as the package makes it.
struct login_users_dir : state_dir {
    const uid_t login = 65534;
    login_users_dir() { BOOST_REQUIRE(::chown(path.c_str(), login, login) == 0); }
};

// The tests that change users need root; as anybody else they pass with a message.
bool skipped_unless_root() {
    if (::geteuid() == 0)
        return false;
    BOOST_TEST_MESSAGE("needs root: skipped");
    return true;
}

// The session's watcher, in this process: it holds the same flock as the session.
jobssh::unique_fd watcher_of(const session_registration& session) {
    return jobssh::unique_fd(::dup(session.descriptor()));
}

// A session of `job` whose user's shell or command started.
struct started_session : session_registration {
    started_session(const fs::path& dir, jobssh::job_id job,
                    session_kind kind = session_kind::interactive)
        : session_registration(dir, job) {
        started(kind);
    }
};

// A one-command session of `job` that ended and left the VM lingering; its watcher (in this
// process) waits for the linger to be over.
struct lingering : started_session {
    lingering(const fs::path& dir, jobssh::job_id job)
        : started_session(dir, job, session_kind::command)
        , dir(dir)
        , job(job) {
        BOOST_TEST((session_registration::leave(true).verdict == vm_verdict::linger));
    }

    // Its linger file says the VM lingers.
    bool lingers() const { return fs::exists(jobssh::linger_file(dir, job, id())); }
    // What the watcher decides once the linger is over; then it goes.
    vm_verdict linger_over() {
        auto verdict = jobssh::linger_over(dir, job, id()).verdict;
        watcher.reset();
        return verdict;
    }

    fs::path dir;
    jobssh::job_id job;
    jobssh::unique_fd watcher = watcher_of(*this);
};

// An interactive session of `job`, started and ended by the login user in a child process:
// the child's exit status, 0 when the session left with `expected`, 2 when the child could
// not become the login user, 3 for another verdict, 4 when the session threw.
int login_user_session_leaves_with(const login_users_dir& dir, jobssh::job_id job,
                                   vm_verdict expected) {
    pid_t child = ::fork();
    if (child == 0) {
        if (::setgid(dir.login) != 0 || ::setuid(dir.login) != 0)
            ::_exit(2);
        try {
            session_registration session(dir.path, job);
            session.started(session_kind::interactive);
            bool as_expected = session.leave(true).verdict == expected;
            ::_exit(as_expected ? 0 : 3);
        } catch (...) {
            ::_exit(4);
        }
    }
    int status = 0;
    BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
    BOOST_TEST(WIFEXITED(status));
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The cases below read alike on purpose (sessions join, start and leave; the verdicts and
// the state directory are checked): each tells one story of a VM's sessions whole, and
// `duplicates` lists their shape.

} // namespace

BOOST_AUTO_TEST_CASE(a_lone_interactive_session_terminates_when_it_leaves_and_leaves_nothing) {
    state_dir dir;
    started_session session(dir.path, 4211);
    BOOST_TEST(jobssh::live_sessions(dir.path, 4211) == 1u);
    BOOST_TEST((leave(session) == vm_verdict::terminate));
    BOOST_TEST(jobssh::live_sessions(dir.path, 4211) == 0u);
    BOOST_TEST(empty_directory(dir.path));
}

BOOST_AUTO_TEST_CASE(of_two_interactive_sessions_only_the_second_to_leave_terminates) {
    state_dir dir;
    started_session first(dir.path, 7);
    started_session second(dir.path, 7);
    BOOST_TEST(jobssh::live_sessions(dir.path, 7) == 2u);
    BOOST_TEST((leave(first) == vm_verdict::keep));
    BOOST_TEST((leave(second) == vm_verdict::terminate));
    BOOST_TEST(empty_directory(dir.path));
}

BOOST_AUTO_TEST_CASE(sessions_of_other_jobs_do_not_count) {
    state_dir dir;
    started_session other(dir.path, 1);
    started_session mine(dir.path, 2);
    BOOST_TEST((leave(mine) == vm_verdict::terminate));
    BOOST_TEST(jobssh::live_sessions(dir.path, 1) == 1u);
}

BOOST_AUTO_TEST_CASE(a_session_in_another_process_keeps_the_vm) {
    state_dir dir;
    holder other(dir.path, 9);
    started_session mine(dir.path, 9);
    BOOST_TEST(jobssh::live_sessions(dir.path, 9) == 2u);
    BOOST_TEST((leave(mine) == vm_verdict::keep));
    other.start_leaving();
    BOOST_TEST(other.verdict() == "terminate");
    BOOST_TEST(empty_directory(dir.path));
}

BOOST_AUTO_TEST_CASE(a_session_killed_with_sigkill_no_longer_counts_once_nothing_holds_it) {
    state_dir dir;
    holder killed(dir.path, 9);
    started_session mine(dir.path, 9);
    killed.kill_hard();
    BOOST_TEST(jobssh::live_sessions(dir.path, 9) == 1u);
    BOOST_TEST((leave(mine) == vm_verdict::terminate));
    BOOST_TEST(empty_directory(dir.path));
}

BOOST_AUTO_TEST_CASE(a_killed_session_whose_watcher_lives_counts_until_the_watcher_leaves_for_it) {
    state_dir dir;
    auto killed = std::make_unique<session_registration>(dir.path, 5);
    killed->started(session_kind::interactive);
    auto watcher = watcher_of(*killed);
    killed->abandon(); // what SIGKILL does to the session's own descriptor
    started_session other(dir.path, 5);
    BOOST_TEST((leave(other) == vm_verdict::keep));
    BOOST_TEST(
        (jobssh::leave_for(dir.path, 5, killed->id(), true).verdict == vm_verdict::terminate));
    watcher.reset();
    killed.reset();
    BOOST_TEST(empty_directory(dir.path));
}

BOOST_AUTO_TEST_CASE(of_sessions_leaving_at_the_same_time_exactly_one_terminates) {
    state_dir dir;
    std::vector<std::unique_ptr<holder>> holders;
    for (int i = 0; i < 8; ++i)
        holders.push_back(std::make_unique<holder>(dir.path, 42));
    for (auto& h : holders)
        h->start_leaving();
    int terminates = 0;
    for (auto& h : holders) {
        auto verdict = h->verdict();
        BOOST_TEST((verdict == "terminate" || verdict == "keep"));
        terminates += verdict == "terminate";
    }
    BOOST_TEST(terminates == 1);
    BOOST_TEST(empty_directory(dir.path));
}

BOOST_AUTO_TEST_CASE(a_session_that_never_started_leaves_the_vm_as_it_found_it) {
    state_dir dir;
    session_registration session(dir.path, 3);
    BOOST_TEST(jobssh::live_sessions(dir.path, 3) == 1u);
    BOOST_TEST((leave(session) == vm_verdict::keep));
    BOOST_TEST(empty_directory(dir.path));
}

BOOST_AUTO_TEST_CASE(
    the_last_one_command_session_leaves_the_vm_lingering_until_the_linger_is_over) {
    state_dir dir;
    lingering session(dir.path, 20);
    BOOST_TEST(session.lingers());
    BOOST_TEST((session.linger_over() == vm_verdict::terminate));
    BOOST_TEST(empty_directory(dir.path));
}

BOOST_AUTO_TEST_CASE(without_a_linger_the_last_one_command_session_terminates) {
    state_dir dir;
    started_session session(dir.path, 20, session_kind::command);
    BOOST_TEST((leave(session, false) == vm_verdict::terminate));
    BOOST_TEST(empty_directory(dir.path));
}

BOOST_AUTO_TEST_CASE(a_session_started_while_the_vm_lingers_calls_the_linger_off) {
    state_dir dir;
    lingering peek(dir.path, 20);
    started_session shell(dir.path, 20);
    BOOST_TEST(!peek.lingers());
    BOOST_TEST((peek.linger_over() == vm_verdict::keep));
    BOOST_TEST((leave(shell) == vm_verdict::terminate));
    BOOST_TEST(empty_directory(dir.path));
}

BOOST_AUTO_TEST_CASE(
    a_session_that_joins_while_the_vm_lingers_and_never_starts_leaves_it_lingering) {
    state_dir dir;
    lingering peek(dir.path, 21);
    {
        session_registration interrupted(dir.path, 21);
        BOOST_TEST((leave(interrupted) == vm_verdict::keep));
    }
    BOOST_TEST((peek.linger_over() == vm_verdict::terminate));
    BOOST_TEST(empty_directory(dir.path));
}

BOOST_AUTO_TEST_CASE(the_last_session_ending_while_another_joins_leaves_the_terminate_to_it) {
    state_dir dir;
    started_session shell(dir.path, 8);
    {
        // The newcomer starts: the VM is its own now.
        session_registration newcomer(dir.path, 8);
        BOOST_TEST((leave(shell) == vm_verdict::keep));
        newcomer.started(session_kind::interactive);
        BOOST_TEST((leave(newcomer) == vm_verdict::terminate));
    }
    started_session again(dir.path, 8);
    {
        // The newcomer leaves before it started: the terminate that was due is sent.
        session_registration newcomer(dir.path, 8);
        BOOST_TEST((leave(again) == vm_verdict::keep));
        BOOST_TEST((leave(newcomer) == vm_verdict::terminate));
    }
    BOOST_TEST(empty_directory(dir.path));
}

BOOST_AUTO_TEST_CASE(
    a_session_joining_while_the_last_one_leaves_never_has_the_vm_terminated_after) {
    // Count and terminate are one step under the job's lock: the leaver's terminate (logged
    // while it still holds the lock) comes before the newcomer joined, or not at all.
    for (int round = 0; round < 20; ++round) {
        state_dir dir;
        auto log = dir.path / "log";
        holder leaving(dir.path, 11, "interactive", log.string());
        BOOST_REQUIRE(read_text(log) == "joined\n");
        fs::remove(log);
        leaving.start_leaving();
        holder newcomer(dir.path, 11, "joining", log.string());
        auto verdict = leaving.verdict();
        auto order = read_text(log);
        if (verdict == "terminate")
            BOOST_TEST(order == "terminate\njoined\n");
        else
            BOOST_TEST(order == "joined\n");
        newcomer.start_leaving();
        BOOST_TEST(newcomer.verdict() == (verdict == "terminate" ? "keep" : "terminate"));
        BOOST_TEST(!fs::exists(dir.path / "job-11"));
    }
}

BOOST_AUTO_TEST_CASE(a_job_directory_left_by_root_does_not_keep_the_login_user_out) {
    if (skipped_unless_root())
        return;
    login_users_dir dir;
    // An operator's run by hand, as root, in an older version: job-6/ and its lock are
    // root's, and the login user (nobody here) cannot create anything in it.
    fs::create_directories(dir.path / "job-6");
    std::ofstream(dir.path / "job-6" / "lock");
    BOOST_TEST(login_user_session_leaves_with(dir, 6, vm_verdict::terminate) == 0);
    BOOST_TEST(!fs::exists(dir.path / "job-6"));
}

BOOST_AUTO_TEST_CASE(a_session_run_as_root_leaves_nothing_the_login_user_cannot_use) {
    if (skipped_unless_root())
        return;
    login_users_dir dir;
    started_session as_root(dir.path, 12);
    BOOST_TEST(fs::exists(dir.path / "job-12"));
    BOOST_TEST(login_user_session_leaves_with(dir, 12, vm_verdict::keep) == 0);
    BOOST_TEST((leave(as_root) == vm_verdict::terminate));
    BOOST_TEST(empty_directory(dir.path));
}

BOOST_AUTO_TEST_CASE(a_file_where_the_job_directory_should_be_is_moved_aside) {
    state_dir dir;
    std::ofstream(dir.path / "job-13") << "not a directory";
    started_session session(dir.path, 13);
    BOOST_TEST((leave(session) == vm_verdict::terminate));
    BOOST_TEST(empty_directory(dir.path));
}

BOOST_AUTO_TEST_CASE(a_state_directory_that_cannot_be_created_is_an_error) {
    BOOST_CHECK_THROW(session_registration("/proc/jobssh-cannot-be-here", 1), std::system_error);
}
