#include <jobssh/connect/pty.hpp>

// GCC 12 misreads the fd list that Boost.Process's launcher resets in the child; the
// warnings come from where the launcher is instantiated, so they are off for this file.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#pragma GCC diagnostic ignored "-Wrestrict"
#endif

#include <boost/asio/use_awaitable.hpp>
#include <boost/process/v2/environment.hpp>
#include <boost/process/v2/process.hpp>
#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <jobssh/common/default_token.hpp>
#include <jobssh/common/posix.hpp>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <system_error>
#include <termios.h>
#include <unistd.h>

namespace jobssh {

namespace asio = boost::asio;
namespace bp = boost::process::v2;

namespace {

void set_cloexec(int fd) {
    if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
        throw_errno("fcntl");
}

// Runs in the forked child between fork and exec: async-signal-safe calls only.
struct child_setup {
    child_stdio stdio;
    pid_t parent = ::getpid();

    static bool place(int fd, int target) {
        if (fd == target) // dup2 would keep FD_CLOEXEC, and exec would close it
            return ::fcntl(fd, F_SETFD, 0) == 0;
        return ::dup2(fd, target) == target;
    }

    template <typename Launcher>
    bp::error_code on_exec_setup(Launcher&, const bp::filesystem::path&, const char* const*) {
        // The child dies with us: a jobssh-shell killed with SIGKILL cannot hang up its ssh
        // to the VM, and an ssh on pipes would keep the remote command running.
        if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent)
            return {ESRCH, boost::system::generic_category()};
        if (::setsid() < 0)
            return {errno, boost::system::generic_category()};
        if (stdio.controlling_tty && ::ioctl(stdio.in, TIOCSCTTY, 0) != 0)
            return {errno, boost::system::generic_category()};
        if (!place(stdio.in, STDIN_FILENO) || !place(stdio.out, STDOUT_FILENO) ||
            !place(stdio.err, STDERR_FILENO))
            return {errno, boost::system::generic_category()};
        // Boost.Process 1.81 closes only the descriptors above its own error pipe: have
        // every other one closed by exec, so that the child holds nothing of ours (a pty
        // master kept open by it would hide a hang-up). close_range is a plain syscall.
        ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
        // jobssh ignores SIGPIPE and the job-control stops; an ignored signal survives
        // exec, and the child should not inherit that.
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        for (int signal : {SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU})
            ::sigaction(signal, &dfl, nullptr);
        return {};
    }
};

} // namespace

pty::pty(const asio::any_io_executor& executor)
    : master_(executor) {
    int master = -1;
    int slave = -1;
    if (::openpty(&master, &slave, nullptr, nullptr, nullptr) != 0)
        throw_errno("openpty");
    master_.assign(master);
    slave_.reset(slave);
    set_cloexec(master);
    set_cloexec(slave);
}

pty::~pty() = default;

void pty::close_slave() {
    slave_.reset();
}

void pty::resize(window_size size) {
    winsize ws{};
    ws.ws_row = size.rows;
    ws.ws_col = size.columns;
    if (::ioctl(master_.native_handle(), TIOCSWINSZ, &ws) != 0)
        throw_errno("TIOCSWINSZ");
}

window_size pty::size() const {
    winsize ws{};
    if (::ioctl(const_cast<asio::posix::stream_descriptor&>(master_).native_handle(), TIOCGWINSZ,
                &ws) != 0)
        throw_errno("TIOCGWINSZ");
    return {ws.ws_row, ws.ws_col};
}

struct child::impl {
    bp::process process;
    pid_t pid;
    bool exited = false;
    int status = 0;
};

child::child(std::unique_ptr<impl> state)
    : impl_(std::move(state)) {}
child::child(child&&) noexcept = default;
child& child::operator=(child&&) noexcept = default;

child::~child() {
    if (impl_ && !impl_->exited) {
        signal_group(SIGKILL);
        // bp::process's destructor reaps it.
    }
}

pid_t child::pid() const {
    return impl_->pid;
}

bool child::exited() const {
    return impl_->exited;
}

void child::signal_group(int signal) noexcept {
    // Also after the leader exited: something it started may still hold the group.
    if (impl_)
        ::kill(-impl_->pid, signal);
}

asio::awaitable<int> child::wait() {
    if (impl_->exited)
        co_return impl_->status;
    auto [ec, code] = co_await impl_->process.async_wait(default_token());
    if (ec == asio::error::operation_aborted)
        throw std::system_error(ec, "waiting for the child was cancelled");
    if (ec) // ECHILD: someone else reaped it; we cannot know more
        code = 255;
    else
        code = exit_status_of(impl_->process.native_exit_code());
    impl_->exited = true;
    impl_->status = code;
    co_return code;
}

int exit_status_of(int wait_status) {
    if (WIFEXITED(wait_status))
        return WEXITSTATUS(wait_status);
    if (WIFSIGNALED(wait_status))
        return 128 + WTERMSIG(wait_status);
    return 255;
}

child start_child(const asio::any_io_executor& executor, const std::filesystem::path& program,
                  const std::vector<std::string>& args, child_stdio stdio) {
    bp::filesystem::path exe = program.native();
    if (!program.has_parent_path()) {
        exe = bp::environment::find_executable(program.native());
        if (exe.empty())
            throw std::system_error(ENOENT, std::generic_category(),
                                    "cannot find " + program.native() + " in PATH");
    }
    // A child that fails to exec leaves through exit(), flushing its copy of our stdio
    // buffers: have them empty.
    std::fflush(nullptr);
    try {
        bp::process process(executor, exe, args, child_setup{stdio});
        auto pid = process.id();
        return child(std::unique_ptr<child::impl>(new child::impl{std::move(process), pid}));
    } catch (const boost::system::system_error& e) {
        throw std::system_error(e.code().value(), std::generic_category(),
                                "cannot start " + exe.string());
    }
}

} // namespace jobssh
