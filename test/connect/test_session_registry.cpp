#define BOOST_TEST_MODULE session_registry
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <jobssh/connect/session_registry.hpp>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;

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
    holder(const fs::path& dir, jobssh::job_id job) {
        int to_child[2], from_child[2];
        BOOST_REQUIRE(::pipe2(to_child, O_CLOEXEC) == 0);
        BOOST_REQUIRE(::pipe2(from_child, O_CLOEXEC) == 0);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, to_child[0], 0);
        posix_spawn_file_actions_adddup2(&actions, from_child[1], 1);
        std::string job_text = std::to_string(job), dir_text = dir.string();
        char* argv[] = {const_cast<char*>(target.c_str()), const_cast<char*>("hold"),
                        job_text.data(), dir_text.data(), nullptr};
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
    // "last" or "not last".
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

} // namespace

BOOST_AUTO_TEST_CASE(a_lone_session_is_the_last_when_it_leaves) {
    state_dir dir;
    jobssh::session_registration session(dir.path, 4211);
    BOOST_TEST(jobssh::live_sessions(dir.path, 4211) == 1u);
    BOOST_TEST(session.leave());
    BOOST_TEST(jobssh::live_sessions(dir.path, 4211) == 0u);
}

BOOST_AUTO_TEST_CASE(of_two_sessions_only_the_second_to_leave_is_the_last) {
    state_dir dir;
    jobssh::session_registration first(dir.path, 7);
    jobssh::session_registration second(dir.path, 7);
    BOOST_TEST(jobssh::live_sessions(dir.path, 7) == 2u);
    BOOST_TEST(!first.leave());
    BOOST_TEST(second.leave());
}

BOOST_AUTO_TEST_CASE(sessions_of_other_jobs_do_not_count) {
    state_dir dir;
    jobssh::session_registration other(dir.path, 1);
    jobssh::session_registration mine(dir.path, 2);
    BOOST_TEST(mine.leave());
    BOOST_TEST(jobssh::live_sessions(dir.path, 1) == 1u);
}

BOOST_AUTO_TEST_CASE(a_session_in_another_process_keeps_the_job_alive) {
    state_dir dir;
    holder other(dir.path, 9);
    jobssh::session_registration mine(dir.path, 9);
    BOOST_TEST(jobssh::live_sessions(dir.path, 9) == 2u);
    BOOST_TEST(!mine.leave());
    other.start_leaving();
    BOOST_TEST(other.verdict() == "last");
}

BOOST_AUTO_TEST_CASE(a_session_killed_with_sigkill_no_longer_counts) {
    state_dir dir;
    holder killed(dir.path, 9);
    jobssh::session_registration mine(dir.path, 9);
    killed.kill_hard();
    BOOST_TEST(jobssh::live_sessions(dir.path, 9) == 1u);
    BOOST_TEST(mine.leave());
}

BOOST_AUTO_TEST_CASE(of_sessions_leaving_at_the_same_time_exactly_one_is_the_last) {
    state_dir dir;
    std::vector<std::unique_ptr<holder>> holders;
    for (int i = 0; i < 8; ++i)
        holders.push_back(std::make_unique<holder>(dir.path, 42));
    for (auto& h : holders)
        h->start_leaving();
    int last = 0;
    for (auto& h : holders) {
        auto verdict = h->verdict();
        BOOST_TEST((verdict == "last" || verdict == "not last"));
        last += verdict == "last";
    }
    BOOST_TEST(last == 1);
}

BOOST_AUTO_TEST_CASE(a_state_directory_that_cannot_be_created_is_an_error) {
    BOOST_CHECK_THROW(jobssh::session_registration("/proc/jobssh-cannot-be-here", 1),
                      std::system_error);
}
