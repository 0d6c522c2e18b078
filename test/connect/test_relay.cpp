#define BOOST_TEST_MODULE relay
#include "flood_pattern.hpp"
#include "io_context_fixture.hpp"
#include "read_ready.hpp"

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>
#include <fcntl.h>
#include <fstream>
#include <jobssh/common/posix.hpp>
#include <jobssh/connect/pty.hpp>
#include <jobssh/connect/relay.hpp>
#include <memory>
#include <optional>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sstream>
#include <sys/ioctl.h>
#include <termios.h>
#include <thread>
#include <unistd.h>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using jobssh::session_end;
using jobssh::testing::flood_difference;

namespace {

const std::filesystem::path target = JOBSSH_TEST_TARGET;

// The session runs on its own thread and io_context, as jobssh-shell would (the fixture's,
// checked for work left pending once the thread is joined); the test's thread plays the user
// at the other end of the descriptors.
class session_thread : jobssh::testing::io_context_fixture {
public:
    template <typename Start>
    explicit session_thread(Start start) {
        // As jobssh-shell's main does: a user gone is an EPIPE where the relay writes.
        jobssh::ignore_sigpipe();
        thread_ = std::thread([this, start] {
            asio::co_spawn(ctx, start(), [this](std::exception_ptr e, jobssh::session_result r) {
                error_ = e;
                if (!e)
                    result_ = std::move(r);
            });
            ctx.run_for(60s);
            finished_ = true;
        });
    }
    ~session_thread() {
        if (thread_.joinable())
            thread_.join();
    }

    bool finished() const { return finished_; }

    jobssh::session_result join() {
        thread_.join();
        if (error_)
            std::rethrow_exception(error_);
        BOOST_REQUIRE_MESSAGE(result_, "the session did not end within its bound");
        return *result_;
    }

private:
    std::thread thread_;
    std::atomic<bool> finished_{false};
    std::optional<jobssh::session_result> result_;
    std::exception_ptr error_;
};

// What the user's side of a descriptor received so far.
class received {
public:
    explicit received(int fd)
        : fd_(fd) {}

    // Reads until `text` arrived; fails the test when it did not within `bound`.
    void expect(std::string_view text, std::chrono::seconds bound = 20s) {
        auto until = std::chrono::steady_clock::now() + bound;
        while (data.find(text) == std::string::npos) {
            if (std::chrono::steady_clock::now() >= until || !read_some(100)) {
                if (std::chrono::steady_clock::now() >= until)
                    break;
            }
        }
        BOOST_REQUIRE_MESSAGE(data.find(text) != std::string::npos,
                              "expected \"" << text << "\", got \"" << data << "\"");
    }

    // Reads everything the session wrote, up to its end.
    void drain(const session_thread& session) {
        while (!session.finished())
            read_some(50);
        while (read_some(0)) {
        }
    }

    // Reads everything the session wrote, then waits for its result.
    jobssh::session_result drain_and_join(session_thread& session) {
        drain(session);
        return session.join();
    }

    std::string data;

private:
    // True when bytes came within `timeout_ms`.
    bool read_some(int timeout_ms) {
        return jobssh::testing::read_ready(fd_, timeout_ms, data) ==
               jobssh::testing::read_outcome::appended;
    }
    int fd_;
};

// The terminal sshd would have given jobssh: the test holds the master, like sshd.
struct user_terminal {
    int master = -1;
    int slave = -1;
    explicit user_terminal(jobssh::window_size size = {24, 80}) {
        winsize ws{};
        ws.ws_row = size.rows;
        ws.ws_col = size.columns;
        BOOST_REQUIRE(::openpty(&master, &slave, nullptr, nullptr, &ws) == 0);
    }
    ~user_terminal() {
        if (master >= 0)
            ::close(master);
        ::close(slave);
    }
    jobssh::user_side side() const { return {slave, slave, slave}; }
    void type(std::string_view keys) const {
        BOOST_REQUIRE(::write(master, keys.data(), keys.size()) ==
                      static_cast<ssize_t>(keys.size()));
    }
    void resize(jobssh::window_size size) const {
        winsize ws{};
        ws.ws_row = size.rows;
        ws.ws_col = size.columns;
        ::ioctl(master, TIOCSWINSZ, &ws);
    }
    void hang_up() {
        ::close(master);
        master = -1;
    }
};

struct pipe_pair {
    int read = -1;
    int write = -1;
    pipe_pair() {
        int fds[2];
        BOOST_REQUIRE(::pipe(fds) == 0);
        read = fds[0];
        write = fds[1];
    }
    ~pipe_pair() {
        close_read();
        close_write();
    }
    void close_read() {
        if (read >= 0)
            ::close(read);
        read = -1;
    }
    void close_write() {
        if (write >= 0)
            ::close(write);
        write = -1;
    }
};

session_thread on_pty(std::vector<std::string> args, jobssh::user_side user,
                      jobssh::session_options options = {}) {
    return session_thread([=] { return jobssh::relay_on_pty(target, args, user, options); });
}

// The session's stdin, stdout and stderr as pipes: the test writes to in.write and reads from
// out.read and err.read.
struct user_pipes {
    pipe_pair in, out, err;
    jobssh::user_side side() const { return {in.read, out.write, err.write}; }
};

session_thread on_pipes(std::vector<std::string> args, const user_pipes& user,
                        jobssh::session_options options = {}) {
    return session_thread(
        [=, side = user.side()] { return jobssh::relay_with_pipes(target, args, side, options); });
}

bool running(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string pid_field, name, state;
    return (stat >> pid_field >> name >> state) && state != "Z";
}

bool gone_within(pid_t pid, std::chrono::seconds bound) {
    auto until = std::chrono::steady_clock::now() + bound;
    while (running(pid) && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(20ms);
    return !running(pid);
}

// Whether the pipe read from `fd` holds as much as it can within `bound`.
bool pipe_fills(int fd, std::chrono::seconds bound) {
    const int capacity = ::fcntl(fd, F_GETPIPE_SZ);
    auto until = std::chrono::steady_clock::now() + bound;
    for (;;) {
        int queued = 0;
        ::ioctl(fd, FIONREAD, &queued);
        if (queued >= capacity)
            return true;
        if (std::chrono::steady_clock::now() >= until)
            return false;
        std::this_thread::sleep_for(10ms);
    }
}

std::pair<pid_t, pid_t> pids_in(const std::string& text) {
    std::istringstream words(text.substr(text.find("pids ")));
    std::string label;
    pid_t child = 0, grandchild = 0;
    words >> label >> child >> grandchild;
    return {child, grandchild};
}

// The target's `group` on pipes, once it wrote the pids of its child and grandchild.
struct group_on_pipes {
    user_pipes user;
    session_thread session = on_pipes({"group"}, user);
    received output{user.out.read};
    std::pair<pid_t, pid_t> pids;
    group_on_pipes() {
        output.expect("\n");
        pids = pids_in(output.data);
    }
};

// The cases below read alike on purpose (start a session, drain what it wrote, join, check):
// each tells one thing a user would notice whole, and `duplicates` lists their shape.

} // namespace

BOOST_AUTO_TEST_CASE(every_byte_the_child_wrote_reaches_the_user_before_the_session_ends) {
    user_terminal user;
    auto session = on_pty({"flood", "1000000", "0"}, user.side());
    received screen(user.master);
    auto result = screen.drain_and_join(session);
    BOOST_TEST(flood_difference(screen.data, 1000000) == "");
    BOOST_TEST(result.exit_status == 0);
    BOOST_TEST((result.end == session_end::child_exited));
}

BOOST_AUTO_TEST_CASE(on_a_pty_the_child_s_stdout_may_be_a_pipe_read_slowly) {
    // stdin a terminal, stdout a pipe (opened again for the child through /proc) that fills
    // before it is read: every byte arrives, and the child's writes wait as they would.
    user_terminal user;
    pipe_pair out;
    auto session = on_pty({"flood", "300000", "0"}, {user.slave, out.write, user.slave});
    // The pipe fills and the child waits on it: seen as a full pipe, not guessed from a sleep.
    BOOST_REQUIRE_MESSAGE(pipe_fills(out.read, 20s), "the child never filled the pipe");
    received output(out.read);
    auto result = output.drain_and_join(session);
    BOOST_TEST(flood_difference(output.data, 300000) == "");
    BOOST_TEST(result.exit_status == 0);
}

BOOST_AUTO_TEST_CASE(the_exit_status_of_the_child_is_the_session_s) {
    user_terminal user;
    auto session = on_pty({"exit", "3"}, user.side());
    received screen(user.master);
    BOOST_TEST(screen.drain_and_join(session).exit_status == 3);
}

BOOST_AUTO_TEST_CASE(the_child_gets_the_user_s_window_size_at_start_and_after_a_resize) {
    user_terminal user({40, 120});
    auto session = on_pty({"sizes"}, user.side());
    received screen(user.master);
    screen.expect("size 40 120");
    user.resize({50, 132});
    ::raise(SIGWINCH); // what the kernel sends jobssh when sshd resizes its terminal
    screen.expect("size 50 132");
    user.type("\x04"); // Ctrl-D: EOF for the child's read
    BOOST_TEST(screen.drain_and_join(session).exit_status == 0);
}

// What a recorder would be shown (the session runs on a thread of its own: read it after
// the session ended).
struct observer_log final : jobssh::screen_observer {
    std::optional<jobssh::window_size> began;
    std::string shown, typed;
    std::vector<std::pair<unsigned short, unsigned short>> sizes;
    void begin(jobssh::window_size size) override { began = size; }
    void output(std::string_view bytes) override { shown.append(bytes); }
    void input(std::string_view keys) override { typed.append(keys); }
    void resize(jobssh::window_size size) override { sizes.emplace_back(size.rows, size.columns); }
};

BOOST_AUTO_TEST_CASE(an_observed_session_shows_the_observer_every_byte_key_and_resize_of_it) {
    user_terminal user({40, 120});
    observer_log seen;
    jobssh::session_options options;
    options.observer = &seen;
    auto session = on_pty({"sizes"}, user.side(), options);
    received screen(user.master);
    screen.expect("size 40 120");
    user.resize({50, 132});
    ::raise(SIGWINCH);
    screen.expect("size 50 132");
    user.type("\x04");
    BOOST_TEST(screen.drain_and_join(session).exit_status == 0);
    BOOST_REQUIRE(seen.began);
    BOOST_TEST(seen.began->rows == 40);
    BOOST_TEST(seen.began->columns == 120);
    BOOST_TEST(seen.shown == screen.data);
    BOOST_TEST(seen.typed == "\x04");
    BOOST_TEST((seen.sizes == std::vector<std::pair<unsigned short, unsigned short>>{{50, 132}}));
}

BOOST_AUTO_TEST_CASE(an_observed_session_brings_every_byte_to_the_user_and_the_observer) {
    user_terminal user;
    observer_log seen;
    jobssh::session_options options;
    options.observer = &seen;
    auto session = on_pty({"flood", "1000000", "0"}, user.side(), options);
    received screen(user.master);
    BOOST_TEST(screen.drain_and_join(session).exit_status == 0);
    BOOST_TEST(flood_difference(screen.data, 1000000) == "");
    BOOST_TEST(flood_difference(seen.shown, 1000000) == "");
}

BOOST_AUTO_TEST_CASE(on_a_pty_stderr_before_any_output_is_held_for_the_caller) {
    user_terminal user;
    auto session = on_pty({"complain", "Host key verification failed.\r\n", "255"}, user.side());
    received screen(user.master);
    auto result = screen.drain_and_join(session);
    BOOST_TEST(result.exit_status == 255);
    BOOST_TEST(result.held_stderr == "Host key verification failed.\r\n");
    BOOST_TEST(result.child_stderr == "Host key verification failed.\r\n");
    BOOST_TEST(screen.data.find("verification") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(on_a_pty_stderr_after_the_child_made_its_terminal_raw_is_passed_on_at_once) {
    user_terminal user;
    auto session = on_pty({"raw", "a warning\r\n"}, user.side());
    received screen(user.master);
    screen.expect("raw");
    screen.expect("a warning"); // before the child ends: it waits for a key
    user.type("q");
    auto result = screen.drain_and_join(session);
    BOOST_TEST(result.exit_status == 0);
    BOOST_TEST(result.held_stderr.empty());
    BOOST_TEST(result.child_stderr == "a warning\r\n");
}

// "Started" (the VM's life): on a pty, when the child makes its terminal raw (ssh does once
// authenticated, its session channel open), once.
BOOST_AUTO_TEST_CASE(on_a_pty_the_session_starts_once_when_the_child_makes_its_terminal_raw) {
    user_terminal user;
    auto starts = std::make_shared<std::atomic<int>>(0);
    jobssh::session_options options;
    options.on_started = [starts] { ++*starts; };
    auto session = on_pty({"raw", "a warning\r\n"}, user.side(), options);
    received screen(user.master);
    // "raw" reaches the user straight from the child, before the session may have seen the
    // terminal change; the warning it writes to stderr after comes through the session, which
    // passes it on only once started (the case above): shown, the start was told.
    screen.expect("raw");
    screen.expect("a warning");
    BOOST_TEST(*starts == 1);
    user.type("q");
    screen.drain_and_join(session);
    BOOST_TEST(*starts == 1);
}

BOOST_AUTO_TEST_CASE(on_a_pty_a_child_that_ends_before_its_terminal_is_raw_never_started) {
    user_terminal user;
    auto starts = std::make_shared<std::atomic<int>>(0);
    jobssh::session_options options;
    options.on_started = [starts] { ++*starts; };
    auto session =
        on_pty({"complain", "Host key verification failed.\r\n", "255"}, user.side(), options);
    received screen(user.master);
    BOOST_TEST(screen.drain_and_join(session).exit_status == 255);
    BOOST_TEST(*starts == 0);
}

BOOST_AUTO_TEST_CASE(keys_reach_the_child_as_typed_and_ctrl_c_interrupts_the_child_only) {
    user_terminal user;
    {
        auto session = on_pty({"line"}, user.side());
        received screen(user.master);
        user.type("hello\r");
        screen.expect("got hello");
        BOOST_TEST(screen.drain_and_join(session).exit_status == 0);
    }
    {
        auto session = on_pty({"stubborn"}, user.side());
        received screen(user.master);
        screen.expect("stubborn");
        user.type("\x03");
        auto result = screen.drain_and_join(session);
        BOOST_TEST(result.exit_status == 128 + SIGINT);
        BOOST_TEST((result.end == session_end::child_exited));
    }
}

BOOST_AUTO_TEST_CASE(the_user_s_terminal_is_raw_during_the_session_and_restored_after) {
    user_terminal user;
    termios before{};
    ::tcgetattr(user.slave, &before);
    auto session = on_pty({"sizes"}, user.side());
    received screen(user.master);
    screen.expect("size");
    termios during{};
    ::tcgetattr(user.slave, &during);
    user.type("\x04");
    screen.drain_and_join(session);
    termios after{};
    ::tcgetattr(user.slave, &after);
    BOOST_TEST((during.c_lflag & (ECHO | ICANON | ISIG)) == 0u);
    BOOST_TEST(after.c_lflag == before.c_lflag);
    BOOST_TEST(after.c_iflag == before.c_iflag);
    BOOST_TEST(after.c_oflag == before.c_oflag);
}

BOOST_AUTO_TEST_CASE(a_hang_up_of_the_user_s_terminal_ends_the_child_and_what_it_started) {
    user_terminal user;
    auto session = on_pty({"group"}, user.side());
    received screen(user.master);
    screen.expect("\n");
    auto [child, grandchild] = pids_in(screen.data);
    user.hang_up();
    auto result = session.join();
    BOOST_TEST((result.end == session_end::hangup));
    BOOST_TEST(!running(child));
    BOOST_TEST(gone_within(grandchild, 10s));
}

BOOST_AUTO_TEST_CASE(sighup_ends_the_session_and_a_child_ignoring_it_is_killed) {
    user_terminal user;
    jobssh::session_options options;
    options.stop_grace = 300ms;
    auto session = on_pty({"stubborn"}, user.side(), options);
    received screen(user.master);
    screen.expect("stubborn");
    ::raise(SIGHUP);
    auto result = screen.drain_and_join(session);
    BOOST_TEST((result.end == session_end::hangup));
    BOOST_TEST(result.exit_status == 128 + SIGKILL);
}

BOOST_AUTO_TEST_CASE(sigterm_ends_the_session_and_everything_the_child_started) {
    group_on_pipes group;
    auto [child, grandchild] = group.pids;
    ::raise(SIGTERM);
    auto result = group.output.drain_and_join(group.session);
    BOOST_TEST((result.end == session_end::hangup));
    BOOST_TEST(result.exit_status == 128 + SIGHUP);
    BOOST_TEST(!running(child));
    BOOST_TEST(gone_within(grandchild, 10s));
}

// jobssh-shell races the whole session with the signals that end it, and cancels the relay.
BOOST_AUTO_TEST_CASE(a_cancelled_session_stops_its_child_and_everything_it_started) {
    pipe_pair in, out, err, cancel;
    auto session = session_thread([&]() -> asio::awaitable<jobssh::session_result> {
        using namespace asio::experimental::awaitable_operators;
        jobssh::session_options options;
        options.catch_signals = false;
        asio::posix::stream_descriptor cancelled(co_await asio::this_coro::executor,
                                                 ::dup(cancel.read));
        // Named first: GCC 12 miscompiles braced initializers in a co_await expression.
        std::vector<std::string> args{"group"};
        jobssh::user_side user{in.read, out.write, err.write};
        auto ended = co_await (
            jobssh::relay_with_pipes(target, args, user, options) ||
            cancelled.async_wait(asio::posix::stream_descriptor::wait_read, asio::use_awaitable));
        BOOST_TEST(ended.index() == 1u); // the relay did not end by itself
        co_return jobssh::session_result{};
    });
    received output(out.read);
    output.expect("\n");
    auto [child, grandchild] = pids_in(output.data);
    BOOST_REQUIRE(::write(cancel.write, "x", 1) == 1);
    output.drain_and_join(session);
    BOOST_TEST(!running(child));
    BOOST_TEST(gone_within(grandchild, 10s));
}

BOOST_AUTO_TEST_CASE(the_user_is_warned_before_the_deadline_and_the_session_ends_at_it) {
    user_terminal user;
    jobssh::session_options options;
    // A warning already due when the session begins is skipped (the banner said when), so
    // the first one is due well after the start: 5 s for a thread, a fork and an exec on a
    // loaded machine under ASan. That the child ran before it was due is checked, not assumed.
    options.deadline = std::chrono::system_clock::now() + 7s;
    options.warn_before = {2s, 1s};
    options.stop_grace = 300ms;
    auto session = on_pty({"stubborn"}, user.side(), options);
    received screen(user.master);
    screen.expect("stubborn");
    BOOST_REQUIRE_MESSAGE(std::chrono::system_clock::now() < *options.deadline - 2s,
                          "the session began after its first warning was due");
    auto result = screen.drain_and_join(session);
    BOOST_TEST((result.end == session_end::deadline));
    auto warned = screen.data.find("Your VM will be terminated in 2 seconds.");
    auto warned_again = screen.data.find("Your VM will be terminated in a second.");
    auto ended = screen.data.find("time is up");
    BOOST_TEST(warned != std::string::npos);
    BOOST_TEST(warned_again != std::string::npos);
    BOOST_TEST(ended != std::string::npos);
    BOOST_TEST((warned < warned_again && warned_again < ended));
}

BOOST_AUTO_TEST_CASE(without_a_terminal_eof_on_stdin_is_passed_on_to_the_child) {
    user_pipes user;
    auto session = on_pipes({"cat"}, user);
    BOOST_REQUIRE(::write(user.in.write, "piped input\n", 12) == 12);
    user.in.close_write();
    received output(user.out.read);
    auto result = output.drain_and_join(session);
    BOOST_TEST(output.data == "piped input\n");
    BOOST_TEST(result.exit_status == 0);
    BOOST_TEST((result.end == session_end::child_exited));
}

BOOST_AUTO_TEST_CASE(without_a_terminal_stdout_and_stderr_stay_apart) {
    user_pipes user;
    auto session = on_pipes({"apart"}, user);
    received output(user.out.read), errors(user.err.read);
    output.drain(session);
    auto result = errors.drain_and_join(session);
    BOOST_TEST(output.data == "to stdout\n");
    BOOST_TEST(errors.data == "to stderr\n");
    BOOST_TEST(result.child_stderr == "to stderr\n");
}

BOOST_AUTO_TEST_CASE(without_a_terminal_the_exit_status_and_all_output_come_back) {
    user_pipes user;
    auto session = on_pipes({"flood", "500000", "7"}, user);
    received output(user.out.read);
    auto result = output.drain_and_join(session);
    BOOST_TEST(flood_difference(output.data, 500000) == "");
    BOOST_TEST(result.exit_status == 7);
}

BOOST_AUTO_TEST_CASE(without_a_terminal_the_session_starts_with_the_child_s_first_byte_of_stdout) {
    for (bool to_stdout : {true, false}) {
        user_pipes user;
        auto starts = std::make_shared<std::atomic<int>>(0);
        jobssh::session_options options;
        options.on_started = [starts] { ++*starts; };
        std::vector<std::string> args{"flood", "100000", "0"};
        if (!to_stdout)
            args = {"complain", "ssh: connect to host localhost port 1: refused\n", "255"};
        auto session = on_pipes(args, user, options);
        received output(user.out.read);
        received errors(user.err.read);
        output.drain_and_join(session);
        BOOST_TEST(*starts == (to_stdout ? 1 : 0));
    }
}

BOOST_AUTO_TEST_CASE(without_a_terminal_a_reader_gone_away_ends_the_session) {
    group_on_pipes group;
    auto [child, grandchild] = group.pids;
    group.user.out.close_read();
    auto result = group.session.join();
    BOOST_TEST((result.end == session_end::hangup));
    BOOST_TEST(!running(child));
    BOOST_TEST(gone_within(grandchild, 10s));
}
