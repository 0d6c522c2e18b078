// The user's end of a tail: every byte arrives, in order, and a pipe is grown for a big batch
// only while batches are big.
#define BOOST_TEST_MODULE user_output
#include "run_coroutine.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <functional>
#include <jobssh/common/user_output.hpp>
#include <string>
#include <unistd.h>

namespace asio = boost::asio;
using jobssh::testing::run_coroutine;

namespace {

struct pipe_ends {
    int read = -1;
    int write = -1;
    pipe_ends() {
        int fds[2];
        BOOST_REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
        read = fds[0];
        write = fds[1];
        ::fcntl(read, F_SETFL, O_NONBLOCK);
    }
    ~pipe_ends() {
        ::close(read);
        ::close(write);
    }
    int size() const { return ::fcntl(write, F_GETPIPE_SZ); }
    std::string drain() const {
        std::string got;
        char buffer[65536];
        for (ssize_t n; (n = ::read(read, buffer, sizeof buffer)) > 0;)
            got.append(buffer, static_cast<std::size_t>(n));
        return got;
    }
};

std::string pattern(std::size_t size) {
    std::string text;
    for (std::size_t i = 0; text.size() < size; ++i)
        text += "[build] line " + std::to_string(i) + "\n";
    text.resize(size);
    return text;
}

asio::awaitable<bool> write_to(int fd, std::string bytes) {
    jobssh::user_output out(co_await asio::this_coro::executor, fd);
    co_await out.write(bytes);
    co_return true;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_batch_bigger_than_the_pipe_goes_in_whole_without_a_reader_waiting) {
    pipe_ends pipe;
    const int normal = pipe.size();
    const std::string batch = pattern(300 * 1024);
    BOOST_REQUIRE(static_cast<std::size_t>(normal) < batch.size());
    // Nobody reads while it writes: the write can only finish if the pipe took it all.
    BOOST_TEST(run_coroutine(write_to(pipe.write, batch), std::chrono::seconds(10)));
    BOOST_TEST(pipe.size() == 1 << 20);
    BOOST_TEST(pipe.drain() == batch);
}

BOOST_AUTO_TEST_CASE(the_pipe_goes_back_to_its_size_once_batches_are_small) {
    pipe_ends pipe;
    const int normal = pipe.size();
    const std::string big = pattern(200 * 1024);
    const std::string small = "[build] done\n";
    auto both = [&]() -> asio::awaitable<bool> {
        jobssh::user_output out(co_await asio::this_coro::executor, pipe.write);
        co_await out.write(big);
        BOOST_TEST(pipe.size() == 1 << 20);
        BOOST_TEST(pipe.drain() == big);
        co_await out.write(small);
        co_return true;
    };
    BOOST_TEST(run_coroutine(both(), std::chrono::seconds(10)));
    BOOST_TEST(pipe.size() == normal);
    BOOST_TEST(pipe.drain() == small);
}

BOOST_AUTO_TEST_CASE(small_writes_leave_the_pipe_as_it_is) {
    pipe_ends pipe;
    const int normal = pipe.size();
    BOOST_TEST(run_coroutine(write_to(pipe.write, "[build] one line\n")));
    BOOST_TEST(pipe.size() == normal);
    BOOST_TEST(pipe.drain() == "[build] one line\n");
}

BOOST_AUTO_TEST_CASE(a_reader_that_left_is_a_hang_up) {
    std::signal(SIGPIPE, SIG_IGN); // as jobssh-shell does: EPIPE instead
    pipe_ends pipe;
    ::close(pipe.read);
    pipe.read = ::open("/dev/null", O_RDONLY | O_CLOEXEC); // for the destructor
    BOOST_CHECK_THROW(run_coroutine(write_to(pipe.write, pattern(1000))), jobssh::user_hung_up);
}

namespace {

// A pty's slave, as sshd hands it to a session with a terminal; the master closes as sshd's
// does when the user's ssh goes.
struct terminal_ends {
    int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    int slave = -1;
    terminal_ends() {
        BOOST_REQUIRE(master >= 0);
        BOOST_REQUIRE(::grantpt(master) == 0 && ::unlockpt(master) == 0);
        slave = ::open(::ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
        BOOST_REQUIRE(slave >= 0);
    }
    ~terminal_ends() {
        hang_up();
        ::close(slave);
    }
    void hang_up() {
        if (master >= 0)
            ::close(master);
        master = -1;
    }
};

// What wait_hangup tells once `end` has ended the output it watches.
asio::awaitable<int> hangup_told(int fd, std::function<void()> end) {
    jobssh::user_output out(co_await asio::this_coro::executor, fd);
    end();
    co_return co_await out.wait_hangup();
}

// The signal user_hung_up carried out of a write, 0 when none was thrown.
asio::awaitable<int> signal_of_a_failed_write(int fd) {
    try {
        co_await write_to(fd, pattern(1000));
    } catch (const jobssh::user_hung_up& gone) {
        co_return gone.signal;
    }
    co_return 0;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_terminal_that_hung_up_is_told_as_sighup_a_pipe_without_reader_as_sigpipe) {
    std::signal(SIGPIPE, SIG_IGN);
    terminal_ends terminal;
    BOOST_TEST(run_coroutine(hangup_told(terminal.slave, [&] { terminal.hang_up(); })) == SIGHUP);
    BOOST_TEST(run_coroutine(signal_of_a_failed_write(terminal.slave)) == SIGHUP);

    pipe_ends pipe;
    auto close_reader = [&] {
        ::close(pipe.read);
        pipe.read = ::open("/dev/null", O_RDONLY | O_CLOEXEC); // for the destructor
    };
    BOOST_TEST(run_coroutine(hangup_told(pipe.write, close_reader)) == SIGPIPE);
    BOOST_TEST(run_coroutine(signal_of_a_failed_write(pipe.write)) == SIGPIPE);
}
