#define BOOST_TEST_MODULE pty
#include "flood_pattern.hpp"
#include "run_coroutine.hpp"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <jobssh/connect/pty.hpp>
#include <signal.h>
#include <sstream>
#include <system_error>
#include <thread>

namespace asio = boost::asio;
using jobssh::testing::run_coroutine;

namespace {

const std::filesystem::path target = JOBSSH_TEST_TARGET;

struct outcome {
    std::string output;
    int status = -1;
};

// Reads the pty until the child side is gone (EIO), and only then waits for the exit.
asio::awaitable<std::string> read_all(jobssh::pty& terminal) {
    std::string output;
    std::array<char, 4096> buffer;
    for (;;) {
        auto [ec, n] = co_await terminal.master().async_read_some(
            asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
        if (ec)
            co_return output;
        output.append(buffer.data(), n);
    }
}

// Starts `args` with the pty as its controlling terminal, then leaves the slave to the child.
jobssh::child start_on(jobssh::pty& terminal, const std::vector<std::string>& args) {
    auto process =
        jobssh::start_child(terminal.master().get_executor(), target, args,
                            {terminal.slave(), terminal.slave(), terminal.slave(), true});
    terminal.close_slave();
    return process;
}

asio::awaitable<outcome> run_on_pty(std::vector<std::string> args,
                                    std::optional<jobssh::window_size> size = std::nullopt) {
    auto executor = co_await asio::this_coro::executor;
    jobssh::pty terminal(executor);
    if (size)
        terminal.resize(*size);
    auto process = start_on(terminal, args);
    outcome result;
    result.output = co_await read_all(terminal);
    result.status = co_await process.wait();
    co_return result;
}

// A process is gone when it no longer exists or is a zombie nobody reaped yet.
bool running(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string pid_field, name, state;
    if (!(stat >> pid_field >> name >> state))
        return false;
    return state != "Z";
}

bool gone_within(pid_t pid, std::chrono::seconds bound) {
    auto until = std::chrono::steady_clock::now() + bound;
    while (running(pid) && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return !running(pid);
}

// The child cases below read alike on purpose (a pty, a child on it, read, wait): each
// tells one behaviour of the child whole, and `duplicates` lists their shape.

} // namespace

BOOST_AUTO_TEST_CASE(the_pty_is_the_controlling_terminal_of_the_child) {
    auto result = run_coroutine(run_on_pty({"tty"}));
    BOOST_TEST(result.output == "controlling tty\r\n");
    BOOST_TEST(result.status == 0);
}

BOOST_AUTO_TEST_CASE(the_child_sees_the_window_size_set_on_the_pty) {
    auto result = run_coroutine(run_on_pty({"size"}, jobssh::window_size{33, 111}));
    BOOST_TEST(result.output == "size 33 111\r\n");
}

BOOST_AUTO_TEST_CASE(the_exit_code_of_the_child_comes_back) {
    BOOST_TEST(run_coroutine(run_on_pty({"exit", "7"})).status == 7);
    BOOST_TEST(run_coroutine(run_on_pty({"exit", "0"})).status == 0);
}

BOOST_AUTO_TEST_CASE(every_byte_written_before_the_exit_is_read_before_the_end) {
    auto result = run_coroutine(run_on_pty({"flood", "300000", "5"}));
    BOOST_TEST(jobssh::testing::flood_difference(result.output, 300000) == "");
    BOOST_TEST(result.status == 5);
}

BOOST_AUTO_TEST_CASE(a_child_killed_by_a_signal_reports_128_plus_the_signal) {
    auto status = run_coroutine([]() -> asio::awaitable<int> {
        auto executor = co_await asio::this_coro::executor;
        jobssh::pty terminal(executor);
        auto process = start_on(terminal, {"stubborn"});
        std::array<char, 64> buffer;
        co_await terminal.master().async_read_some(asio::buffer(buffer), asio::use_awaitable);
        process.signal_group(SIGKILL);
        co_return co_await process.wait();
    }());
    BOOST_TEST(status == 128 + SIGKILL);
}

BOOST_AUTO_TEST_CASE(signalling_the_group_ends_what_the_child_started_too) {
    pid_t grandchild = 0;
    auto status = run_coroutine([&]() -> asio::awaitable<int> {
        auto executor = co_await asio::this_coro::executor;
        jobssh::pty terminal(executor);
        auto process = start_on(terminal, {"group"});
        std::string seen;
        std::array<char, 64> buffer;
        while (seen.find('\n') == std::string::npos) {
            auto n = co_await terminal.master().async_read_some(asio::buffer(buffer),
                                                                asio::use_awaitable);
            seen.append(buffer.data(), n);
        }
        std::istringstream words(seen);
        std::string label;
        pid_t child_pid = 0;
        words >> label >> child_pid >> grandchild;
        BOOST_TEST(child_pid == process.pid());
        process.signal_group(SIGTERM);
        co_return co_await process.wait();
    }());
    BOOST_TEST(status == 128 + SIGTERM);
    BOOST_REQUIRE(grandchild > 0);
    BOOST_TEST(gone_within(grandchild, std::chrono::seconds(10)));
}

BOOST_AUTO_TEST_CASE(a_program_that_does_not_exist_cannot_be_started) {
    asio::io_context ctx;
    BOOST_CHECK_THROW(jobssh::start_child(ctx.get_executor(), "/nonexistent/program", {}, {}),
                      std::system_error);
    BOOST_CHECK_THROW(jobssh::start_child(ctx.get_executor(), "no-such-program-anywhere", {}, {}),
                      std::system_error);
}
