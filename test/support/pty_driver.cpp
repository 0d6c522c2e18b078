#include "pty_driver.hpp"

#include "read_ready.hpp"
#include "wait_status.hpp"

#include <cerrno>
#include <csignal>
#include <poll.h>
#include <pty.h>
#include <stdexcept>
#include <string_view>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace jobssh::testing {

pty_driver::pty_driver(const std::vector<std::string>& argv, unsigned short rows,
                       unsigned short columns) {
    if (argv.empty())
        throw std::invalid_argument("pty_driver: empty argv");
    std::vector<char*> args;
    for (const auto& arg : argv)
        args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    // A terminal type full-screen programs know, whatever the test runner had.
    std::vector<std::string> environment;
    for (char** variable = environ; *variable; ++variable)
        if (std::string_view(*variable).substr(0, 5) != "TERM=")
            environment.emplace_back(*variable);
    environment.emplace_back("TERM=xterm");
    std::vector<char*> envp;
    for (auto& variable : environment)
        envp.push_back(variable.data());
    envp.push_back(nullptr);
    winsize ws{};
    ws.ws_row = rows;
    ws.ws_col = columns;
    pid_ = ::forkpty(&master_, nullptr, nullptr, &ws);
    if (pid_ < 0)
        throw std::runtime_error("forkpty failed");
    if (pid_ == 0) {
        ::execvpe(args[0], args.data(), envp.data());
        ::_exit(127);
    }
}

pty_driver::~pty_driver() {
    if (pid_ > 0 && !status_) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    ::close(master_);
}

void pty_driver::send(std::string_view keys) {
    while (!keys.empty()) {
        auto n = ::write(master_, keys.data(), keys.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        keys.remove_prefix(static_cast<std::size_t>(n));
    }
}

bool pty_driver::read_some(int timeout_ms) {
    if (closed_)
        return false;
    // EIO at the end: every holder of the slave is gone.
    if (read_ready(master_, timeout_ms, output_) == read_outcome::ended) {
        closed_ = true;
        return false;
    }
    return true;
}

bool pty_driver::expect(std::string_view text, std::chrono::milliseconds bound) {
    auto until = std::chrono::steady_clock::now() + bound;
    for (;;) {
        auto found = output_.find(text, consumed_);
        if (found != std::string::npos) {
            consumed_ = found + text.size();
            return true;
        }
        if (closed_ || std::chrono::steady_clock::now() >= until)
            return false;
        read_some(50);
    }
}

void pty_driver::resize(unsigned short rows, unsigned short columns) {
    winsize ws{};
    ws.ws_row = rows;
    ws.ws_col = columns;
    ::ioctl(master_, TIOCSWINSZ, &ws);
}

bool pty_driver::resize_until_the_shell_sees_it(unsigned short rows, unsigned short columns) {
    resize(rows, columns);
    const auto size = std::to_string(rows) + " " + std::to_string(columns);
    for (int attempt = 0; attempt < 20; ++attempt) {
        send("stty size\r");
        if (expect(size, std::chrono::seconds(1)))
            return true;
    }
    return false;
}

std::optional<int> pty_driver::wait(std::chrono::milliseconds bound) {
    auto until = std::chrono::steady_clock::now() + bound;
    while (!status_) {
        int raw = 0;
        pid_t done = ::waitpid(pid_, &raw, WNOHANG);
        if (done == pid_) {
            status_ = fixtures::exit_code_of(raw);
            break;
        }
        if (std::chrono::steady_clock::now() >= until)
            return std::nullopt;
        if (!read_some(50))
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    while (read_some(0) && !closed_) {
        pollfd p{master_, POLLIN, 0};
        if (::poll(&p, 1, 0) <= 0)
            break;
    }
    return status_;
}

void pty_driver::kill(int signal) {
    ::kill(pid_, signal);
}

} // namespace jobssh::testing
