#include <boost/asio/buffer.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <jobssh/common/default_token.hpp>
#include <jobssh/common/posix.hpp>
#include <jobssh/common/user_output.hpp>
#include <limits>
#include <optional>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

namespace jobssh {

namespace asio = boost::asio;

namespace {

// What the descriptor is; all zero (none of the kinds below) when fstat fails.
struct stat stat_of(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        st = {};
    return st;
}

// Regular files and devices like /dev/null cannot be waited on with epoll; they never block
// for long either, so they are written to directly.
bool can_wait_on(int fd, const struct stat& st) {
    return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || (S_ISCHR(st.st_mode) && ::isatty(fd));
}

// A terminal that ends has hung up (its master closed: sshd's, when the user's ssh went);
// anything else lost its reader, as a pipe's writer is told by SIGPIPE. A terminal hung up
// already answers isatty's question with EIO.
int hangup_signal_of(int fd, const struct stat& st) {
    if (!S_ISCHR(st.st_mode))
        return SIGPIPE;
    errno = 0;
    return ::isatty(fd) || errno == EIO ? SIGHUP : SIGPIPE;
}

// Asio writes at most 64 KiB per call unless told otherwise: a pipe that has room for more
// takes a batch of log lines in one write(2).
std::size_t all_it_takes(const boost::system::error_code& ec, std::size_t) {
    return ec ? 0 : std::numeric_limits<std::size_t>::max();
}

// A pipe holds 64 KiB unless asked for more: a tail catching up with a big log then writes,
// wakes sshd and waits for every 64 KiB. While batches are big the pipe is asked for 1 MiB
// (the unprivileged limit, fs.pipe-max-size); once they are small again it goes back to
// its size, since pipe memory counts against a per-user limit shared by every session of
// the login user (fs.pipe-user-pages-soft). Refusals change nothing but speed.
class pipe_sizer {
public:
    pipe_sizer(int fd, const struct stat& st)
        : fd_(fd)
        , normal_(S_ISFIFO(st.st_mode) ? ::fcntl(fd, F_GETPIPE_SZ) : -1) {}

    void before_writing(std::size_t bytes) {
        if (normal_ <= 0)
            return;
        if (!grown_ && bytes > static_cast<std::size_t>(normal_))
            grown_ = ::fcntl(fd_, F_SETPIPE_SZ, big) > 0;
        else if (grown_ && bytes <= small)
            grown_ = ::fcntl(fd_, F_SETPIPE_SZ, normal_) < 0; // EBUSY while it holds more
    }

private:
    static constexpr int big = 1 << 20;
    static constexpr std::size_t small = 4096;
    int fd_;
    int normal_;
    bool grown_ = false;
};

} // namespace

struct user_output::impl {
    int fd;
    std::optional<asio::posix::stream_descriptor> stream; // when fd can be waited on
    int original_flags;
    pipe_sizer pipe;
    int hangup_signal;

    impl(asio::any_io_executor executor, int descriptor)
        : impl(std::move(executor), descriptor, stat_of(descriptor)) {}

    impl(asio::any_io_executor executor, int descriptor, const struct stat& st)
        : fd(descriptor)
        , original_flags(::fcntl(descriptor, F_GETFL))
        , pipe(descriptor, st)
        , hangup_signal(hangup_signal_of(descriptor, st)) {
        if (can_wait_on(fd, st))
            stream.emplace(executor, fd);
    }

    ~impl() {
        if (stream)
            stream->release();
        if (original_flags >= 0)
            ::fcntl(fd, F_SETFL, original_flags);
    }
};

user_output::user_output(asio::any_io_executor executor, int fd)
    : impl_(std::make_unique<impl>(std::move(executor), fd)) {}

user_output::~user_output() = default;

asio::awaitable<void> user_output::write(std::string_view bytes) {
    if (bytes.empty())
        co_return;
    if (!impl_->stream) {
        if (write_all(impl_->fd, bytes))
            throw user_hung_up(impl_->hangup_signal);
        co_return;
    }
    impl_->pipe.before_writing(bytes.size());
    auto [ec, written] = co_await asio::async_write(
        *impl_->stream, asio::buffer(bytes.data(), bytes.size()), all_it_takes, default_token());
    if (ec == asio::error::operation_aborted)
        throw boost::system::system_error(ec);
    if (ec)
        throw user_hung_up(impl_->hangup_signal);
}

asio::awaitable<int> user_output::wait_hangup() {
    if (!impl_->stream) {
        // Nothing to wait for: park until cancelled.
        asio::steady_timer forever(co_await asio::this_coro::executor,
                                   asio::steady_timer::time_point::max());
        co_await forever.async_wait(asio::use_awaitable);
        co_return impl_->hangup_signal;
    }
    for (;;) {
        auto [ec] = co_await impl_->stream->async_wait(asio::posix::descriptor_base::wait_error,
                                                       default_token());
        // Cancelled: the session ended otherwise, and whoever waited has what it needs. A
        // plain return costs no exception at the end of every session.
        if (ec == asio::error::operation_aborted)
            co_return impl_->hangup_signal;
        // The reactor wakes error waiters for any readiness it was told about; only an error
        // or hangup on the descriptor means the reader is gone.
        pollfd check{impl_->fd, 0, 0};
        if (::poll(&check, 1, 0) > 0 && (check.revents & (POLLERR | POLLHUP)))
            co_return impl_->hangup_signal;
        if (ec)
            co_return impl_->hangup_signal;
    }
}

} // namespace jobssh
