#pragma once

// A pseudo-terminal we own, and the child processes jobssh starts (the VM's ssh): each in
// its own session and process group, so that ending a session ends everything under it.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <filesystem>
#include <jobssh/common/posix.hpp>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

namespace jobssh {

struct window_size {
    unsigned short rows = 24;
    unsigned short columns = 80;
};

// openpty in the parent: the master is ours to read and write, the slave becomes the
// child's controlling terminal. Throws std::system_error when no pty can be had. (Declared
// as every class owning a resource is, vm_ssh.hpp's among them: `duplicates` lists the two.)
class pty {
public:
    explicit pty(const boost::asio::any_io_executor& executor);
    ~pty();
    pty(const pty&) = delete;
    pty& operator=(const pty&) = delete;

    boost::asio::posix::stream_descriptor& master() { return master_; }
    int slave() const { return slave_.get(); }
    // After the child started: from then on only the child holds the slave, so that a
    // master read ends (EIO) when the child side is gone.
    void close_slave();
    // Sets the size the child sees (TIOCSWINSZ); the kernel sends it SIGWINCH.
    void resize(window_size size);
    window_size size() const;

private:
    boost::asio::posix::stream_descriptor master_;
    unique_fd slave_;
};

// Where the child's stdin, stdout and stderr go. With `controlling_tty`, stdin must be a
// pty slave and becomes the child's controlling terminal.
struct child_stdio {
    int in = 0;
    int out = 1;
    int err = 2;
    bool controlling_tty = false;
};

// A started child: the leader of a new session and process group. The destructor ends the
// whole group (SIGKILL) when the child still runs, so that no exit path leaves it behind.
class child {
public:
    child(child&&) noexcept;
    child& operator=(child&&) noexcept;
    ~child();

    pid_t pid() const;
    // Waits for the exit: the exit code, or 128+N when killed by signal N (like a shell).
    boost::asio::awaitable<int> wait();
    bool exited() const;
    // Sends `signal` to the child's process group (the child and everything it started).
    void signal_group(int signal) noexcept;

    struct impl;

private:
    explicit child(std::unique_ptr<impl> state);
    std::unique_ptr<impl> impl_;
    friend child start_child(const boost::asio::any_io_executor&, const std::filesystem::path&,
                             const std::vector<std::string>&, child_stdio);
};

// Starts `program` (a path, or a name looked up in PATH) with `args`. Between fork and exec
// the child makes only async-signal-safe calls: setsid, ioctl(TIOCSCTTY), dup2, and
// close_range/sigaction so that it inherits neither our descriptors nor the signals we
// ignore. Throws std::system_error when the program cannot be started.
child start_child(const boost::asio::any_io_executor& executor,
                  const std::filesystem::path& program, const std::vector<std::string>& args,
                  child_stdio stdio);

// The exit status a shell would report for a waitpid status.
int exit_status_of(int wait_status);

} // namespace jobssh
