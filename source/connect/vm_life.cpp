#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <jobssh/api/runner.hpp>
#include <jobssh/common/config.hpp>
#include <jobssh/common/default_token.hpp>
#include <jobssh/common/failure.hpp>
#include <jobssh/common/posix.hpp>
#include <jobssh/common/syslog.hpp>
#include <jobssh/connect/vm_life.hpp>
#include <string_view>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace jobssh {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

// What a session tells its watcher on their pipe. A pipe that ends without either means the
// session died without leaving: the watcher leaves for it.
constexpr char session_done = 'D';   // the session left; nothing to do
constexpr char session_linger = 'L'; // the session left its VM lingering: the watcher keeps time

constexpr int watcher_session_fd = 3; // the session's file, flocked
constexpr int watcher_pipe_fd = 4;    // the read end of the session's pipe

constexpr std::string_view watch_flag = "--watch-session";

log_fields log_line(job_id job, std::string_view user) {
    log_fields line;
    line.add("job", job).add("user", user);
    return line;
}

// POST terminate, logged; failures are the operator's to read, not the user's.
asio::awaitable<void> terminate_logged(const config& cfg, job_id job, std::string_view user,
                                       std::string_view reason) {
    try {
        co_await terminate_job(cfg, job);
        log_info(log_line(job, user).add("event", "terminate").add("reason", reason));
    } catch (const std::exception& e) {
        log_error(log_line(job, user)
                      .add("event", "terminate")
                      .add("reason", reason)
                      .add("outcome", "failed")
                      .add("detail", e.what()));
    }
}

void tell(const unique_fd& watcher, char word) {
    if (watcher) [[maybe_unused]]
        auto ignored = write_all(watcher.get(), std::string_view(&word, 1));
}

// The watcher: this very program (it may have been replaced on disk since: /proc/self/exe
// is still the one running), detached in a session of its own, with /dev/null for stdin,
// stdout and stderr, so that nothing of the user's session waits for it (OpenSSH bug 1988),
// and no terminal hang-up reaches it. It gets the session's file (holding its flock) and the
// read end of a pipe whose write end only the session holds.
unique_fd start_watcher(const config& cfg, job_id job, const session_registration& session,
                        std::string_view user) {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0)
        throw_errno("pipe2");
    unique_fd read_end(ends[0]), write_end(ends[1]);
    std::vector<std::string> args{"jobssh-shell", std::string(watch_flag)};
    if (!cfg.file.empty())
        args.insert(args.end(), {"--config", cfg.file.string()});
    args.insert(args.end(), {std::to_string(job), session.id(), std::string(user)});
    std::vector<char*> argv;
    for (auto& arg : args)
        argv.push_back(arg.data());
    argv.push_back(nullptr);
    const int session_fd = session.descriptor();
    const int pipe_fd = read_end.get();

    // Between fork and exec only async-signal-safe calls: Asio may run a resolver thread.
    pid_t first = ::fork();
    if (first < 0)
        throw_errno("fork");
    if (first == 0) {
        ::setsid();
        pid_t second = ::fork();
        if (second != 0)
            ::_exit(second < 0 ? 1 : 0); // the watcher is nobody's child: init reaps it
        sigset_t none;
        ::sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        struct sigaction by_default {};
        by_default.sa_handler = SIG_DFL;
        for (int signal : {SIGHUP, SIGINT, SIGQUIT, SIGTERM})
            ::sigaction(signal, &by_default, nullptr);
        int null = ::open("/dev/null", O_RDWR);
        int session_copy = ::fcntl(session_fd, F_DUPFD, 10);
        int pipe_copy = ::fcntl(pipe_fd, F_DUPFD, 10);
        if (null < 0 || session_copy < 0 || pipe_copy < 0)
            ::_exit(127);
        ::dup2(null, STDIN_FILENO);
        ::dup2(null, STDOUT_FILENO);
        ::dup2(null, STDERR_FILENO);
        ::dup2(session_copy, watcher_session_fd);
        ::dup2(pipe_copy, watcher_pipe_fd);
        ::close_range(watcher_pipe_fd + 1, ~0U, 0);
        ::execv("/proc/self/exe", argv.data());
        ::_exit(127);
    }
    int status = 0;
    while (::waitpid(first, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error("the session's watcher did not start");
    return write_end;
}

} // namespace

struct job_session::claim_state {
    explicit claim_state(asio::any_io_executor executor)
        : done(executor, asio::steady_timer::time_point::max()) {}
    bool running = true;
    asio::steady_timer done; // cancelled when the claim is over
};

namespace {

// The claim goes out while the session runs; what it shares with the session is kept alive
// by both.
asio::awaitable<void> claim_in_background(const config& cfg, job_id job, std::string user,
                                          std::shared_ptr<job_session::claim_state> state) {
    try {
        co_await claim_job(cfg, job);
    } catch (const std::exception& e) {
        // The user's shell runs already: the runner's word on the claim is the operator's.
        log_error(log_line(job, user)
                      .add("event", "claim")
                      .add("outcome", "failed")
                      .add("detail", e.what()));
    }
    state->running = false;
    state->done.cancel();
}

} // namespace

job_session::job_session(asio::any_io_executor executor, const config& cfg, job_id job,
                         session_kind kind, std::string user)
    : executor_(std::move(executor))
    , cfg_(cfg)
    , job_(job)
    , kind_(kind)
    , user_(std::move(user)) {
    try {
        registration_.emplace(cfg.state_dir, job);
    } catch (const std::system_error& e) {
        throw failure_error(failure::internal, std::string("session registry: ") + e.what());
    }
    try {
        watcher_ = start_watcher(cfg, job, *registration_, user_);
    } catch (const std::exception& e) {
        // The session goes on; only a kill of it, or a linger, has nobody to act on it.
        log_error(log_line(job, user_)
                      .add("event", "watcher")
                      .add("outcome", "failed")
                      .add("detail", e.what()));
    }
}

job_session::~job_session() {
    // Not left (an exception on the way): the watcher leaves for the session, as for a
    // killed one. Without a watcher the registration leaves, keeping the VM.
    if (registration_ && watcher_)
        registration_->abandon();
}

void job_session::started() {
    if (started_)
        return;
    started_ = true;
    try {
        registration_->started(kind_);
    } catch (const std::system_error& e) {
        log_error(log_line(job_, user_)
                      .add("event", "started")
                      .add("outcome", "failed")
                      .add("detail", e.what()));
    }
    // Claimed only now: a session that never started leaves no claim behind.
    claim_ = std::make_shared<claim_state>(executor_);
    asio::co_spawn(executor_, claim_in_background(cfg_, job_, user_, claim_), asio::detached);
}

asio::awaitable<bool> job_session::leave(bool reached) {
    if (claim_ && claim_->running)
        co_await claim_->done.async_wait(default_token());
    bool can_linger = watcher_ && cfg_.linger > std::chrono::milliseconds::zero();
    std::optional<leave_decision> decision;
    try {
        decision.emplace(registration_->leave(can_linger, reached));
    } catch (const std::system_error& e) {
        log_error(log_line(job_, user_)
                      .add("event", "leave")
                      .add("outcome", "failed")
                      .add("detail", e.what()));
        tell(watcher_, session_done);
        co_return false;
    }
    registration_.reset();
    switch (decision->verdict) {
    case vm_verdict::terminate:
        // Under the job's lock: no session starts on the VM while it goes.
        co_await terminate_logged(cfg_, job_, user_, "last_session");
        tell(watcher_, session_done);
        co_return true;
    case vm_verdict::linger:
        tell(watcher_, session_linger);
        log_info(log_line(job_, user_)
                     .add("event", "linger")
                     .add("seconds",
                          std::chrono::duration_cast<std::chrono::seconds>(cfg_.linger).count()));
        co_return true;
    case vm_verdict::keep:
        break;
    }
    tell(watcher_, session_done);
    co_return false;
}

namespace {

// Ends when the linger file's last name is gone: a session started and called it off.
asio::awaitable<void> called_off(asio::posix::stream_descriptor& events) {
    alignas(inotify_event) char buffer[4096];
    for (;;) {
        struct stat st {};
        if (::fstat(watcher_session_fd, &st) != 0 || st.st_nlink == 0)
            co_return;
        auto [error, n] = co_await events.async_read_some(asio::buffer(buffer), default_token());
        if (error)
            co_return;
    }
}

asio::awaitable<void> linger(const config& cfg, job_id job, std::string id, std::string user) {
    auto executor = co_await asio::this_coro::executor;
    auto path = linger_file(cfg.state_dir, job, id);
    unique_fd inotify(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (!inotify ||
        ::inotify_add_watch(inotify.get(), path.c_str(), IN_ATTRIB | IN_DELETE_SELF) < 0)
        co_return; // gone already: called off
    asio::posix::stream_descriptor events(executor, inotify.release());
    asio::steady_timer timer(executor, cfg.linger);
    asio::signal_set stop(executor, SIGTERM, SIGHUP, SIGINT);
    auto ended = co_await (timer.async_wait(default_token()) || called_off(events) ||
                           stop.async_wait(default_token()));
    if (ended.index() == 1)
        co_return;
    if (ended.index() == 2) {
        // Stopped by hand: the VM is left to its deadline, the linger file goes.
        job_lock lock(cfg.state_dir, job);
        std::error_code ec;
        std::filesystem::remove(path, ec);
        co_return;
    }
    auto decision = linger_over(cfg.state_dir, job, id);
    if (decision.verdict == vm_verdict::terminate)
        co_await terminate_logged(cfg, job, user, "linger_over");
}

asio::awaitable<void> watch(const config& cfg, job_id job, std::string id, std::string user) {
    asio::posix::stream_descriptor session(co_await asio::this_coro::executor, watcher_pipe_fd);
    char word = 0;
    for (;;) {
        auto [error, n] = co_await session.async_read_some(asio::buffer(&word, 1), default_token());
        if (error) {
            word = 0; // the session died without a word
            break;
        }
        if (word == session_done || word == session_linger)
            break;
    }
    if (word == session_done)
        co_return;
    if (word == 0) {
        bool can_linger = cfg.linger > std::chrono::milliseconds::zero();
        auto decision = leave_for(cfg.state_dir, job, id, can_linger);
        if (decision.verdict == vm_verdict::terminate)
            co_await terminate_logged(cfg, job, user, "session_killed");
        if (decision.verdict != vm_verdict::linger)
            co_return;
        log_info(log_line(job, user).add("event", "linger").add("reason", "session_killed"));
    }
    co_await linger(cfg, job, std::move(id), std::move(user));
}

} // namespace

int run_session_watcher(int argc, char** argv) {
    // jobssh-shell --watch-session [--config FILE] JOB ID USER
    open_syslog("jobssh-shell");
    std::vector<std::string_view> args(argv + 1, argv + argc);
    if (args.empty() || args.front() != watch_flag)
        return 64;
    args.erase(args.begin());
    std::optional<std::filesystem::path> config_file;
    if (args.size() >= 2 && args.front() == "--config") {
        config_file = std::string(args[1]);
        args.erase(args.begin(), args.begin() + 2);
    }
    if (args.size() != 3)
        return 64;
    try {
        config cfg = find_config(config_file);
        send_syslog_to(cfg.syslog_socket);
        job_id job = std::stoll(std::string(args[0]));
        asio::io_context io;
        asio::co_spawn(io, watch(cfg, job, std::string(args[1]), std::string(args[2])),
                       [&](std::exception_ptr error) {
                           if (error)
                               std::rethrow_exception(error);
                       });
        io.run();
    } catch (const std::exception& e) {
        log_error(
            log_fields().add("event", "watcher").add("outcome", "failed").add("detail", e.what()));
        return 70;
    }
    return 0;
}

bool is_session_watcher(int argc, char** argv) {
    return argc >= 2 && std::string_view(argv[1]) == watch_flag;
}

} // namespace jobssh
