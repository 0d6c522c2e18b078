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
