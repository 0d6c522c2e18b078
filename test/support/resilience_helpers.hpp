#pragma once

// What the fault, kill and load tests share: finding the processes of one sandbox (by its own
// paths in /proc/*/cmdline, never by a global name), waiting with a bound, and starting a
// program whose output is read as it comes.

#include "wait_status.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <optional>
#include <poll.h>
#include <spawn.h>
#include <string>
#include <string_view>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace jobssh::testing {

struct process_entry {
    pid_t pid = 0;
    std::string cmdline; // NULs as spaces
};

// A /proc file, or "" when its process is gone (reading it then fails with ESRCH).
inline std::string read_proc_file(const std::filesystem::path& file) {
    std::string text;
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return text;
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(fd, buffer, sizeof buffer)) > 0)
        text.append(buffer, static_cast<std::size_t>(n));
    ::close(fd);
    return text;
}

// Processes on this host (not this one) whose command line contains `needle`.
inline std::vector<process_entry> processes_with(const std::string& needle) {
    std::vector<process_entry> found;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator("/proc", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
        auto name = it->path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos)
            continue;
        std::string cmdline = read_proc_file(it->path() / "cmdline");
        std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
        pid_t pid = std::stoi(name);
        if (pid != ::getpid() && cmdline.find(needle) != std::string::npos)
            found.push_back({pid, cmdline});
    }
    return found;
}

// The sandbox's jobssh-shell processes: their --config is the sandbox's file. Sessions only,
// or the sessions' watchers (jobssh-shell --watch-session …) only.
inline std::vector<process_entry> shells_of(const std::filesystem::path& config_file,
                                            bool watchers = false) {
    std::vector<process_entry> shells;
    for (auto& p : processes_with(config_file.string()))
        if (p.cmdline.find("jobssh-shell") != std::string::npos &&
            (p.cmdline.find(" --watch-session ") != std::string::npos) == watchers)
            shells.push_back(std::move(p));
    return shells;
}

inline std::vector<process_entry> watchers_of(const std::filesystem::path& config_file) {
    return shells_of(config_file, true);
}

// ssh clients that jobssh-shell starts for a VM: "ssh … -p <port> …", the sessions' own and
// the job's master connection ("ssh -f -M -N -S …", [jobssh] multiplex), which goes with
// the job's last session.
inline std::vector<process_entry> vm_clients_of(std::uint16_t vm_port) {
    std::vector<process_entry> clients;
    for (auto& p : processes_with("-p " + std::to_string(vm_port) + " ")) {
        std::string program = p.cmdline.substr(0, p.cmdline.find(' '));
        if (std::filesystem::path(program).filename() == "ssh")
            clients.push_back(std::move(p));
    }
    return clients;
}

// The sessions' own ssh to the VM only, not the job's master.
inline std::vector<process_entry> session_ssh_of(std::uint16_t vm_port) {
    auto clients = vm_clients_of(vm_port);
    std::erase_if(clients, [](const process_entry& p) {
        return p.cmdline.find(" -M ") != std::string::npos;
    });
    return clients;
}

template <typename Condition>
bool eventually(Condition condition, std::chrono::seconds bound = std::chrono::seconds(20)) {
    auto until = std::chrono::steady_clock::now() + bound;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= until)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return true;
}

// A program with stdin /dev/null and stdout/stderr pipes we read as they come.
class started_program {
public:
    explicit started_program(const std::vector<std::string>& argv) {
        int out[2], err[2];
        if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
            return;
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&actions, out[1], 1);
        posix_spawn_file_actions_adddup2(&actions, err[1], 2);
        std::vector<char*> args;
        for (const auto& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        if (::posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0)
            pid_ = -1;
        posix_spawn_file_actions_destroy(&actions);
        ::close(out[1]);
        ::close(err[1]);
        out_ = out[0];
        err_ = err[0];
    }
    ~started_program() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        ::close(out_);
        ::close(err_);
    }
    started_program(const started_program&) = delete;
    started_program& operator=(const started_program&) = delete;

    pid_t pid() const { return pid_; }
    const std::string& out() const { return out_text_; }
    const std::string& err() const { return err_text_; }

    // Reads until stdout holds `text` or `bound` passed; true when it came.
    bool read_until(std::string_view text,
                    std::chrono::milliseconds bound = std::chrono::seconds(30)) {
        auto until = std::chrono::steady_clock::now() + bound;
        while (out_text_.find(text) == std::string::npos) {
            if (std::chrono::steady_clock::now() >= until || !read_some(100))
                return out_text_.find(text) != std::string::npos;
        }
        return true;
    }

    // Reads both pipes to their ends and waits for the exit: its status (128+N for signal
    // N), nullopt when that did not happen within `bound`.
    std::optional<int> wait(std::chrono::milliseconds bound = std::chrono::seconds(60)) {
        auto until = std::chrono::steady_clock::now() + bound;
        while (read_some(100))
            if (std::chrono::steady_clock::now() >= until)
                return std::nullopt;
        while (std::chrono::steady_clock::now() < until) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                return jobssh::fixtures::exit_code_of(status);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return std::nullopt;
    }

private:
    // False once both pipes are at their end.
    bool read_some(int timeout_ms) {
        pollfd fds[2] = {{out_, POLLIN, 0}, {err_, POLLIN, 0}};
        if (out_closed_)
            fds[0].fd = -1;
        if (err_closed_)
            fds[1].fd = -1;
        if (out_closed_ && err_closed_)
            return false;
        if (::poll(fds, 2, timeout_ms) <= 0)
            return true;
        char buffer[65536];
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
            if (n > 0)
                (i == 0 ? out_text_ : err_text_).append(buffer, static_cast<std::size_t>(n));
            else
                (i == 0 ? out_closed_ : err_closed_) = true;
        }
        return true;
    }

    pid_t pid_ = -1;
    int out_ = -1;
    int err_ = -1;
    bool out_closed_ = false;
    bool err_closed_ = false;
    std::string out_text_;
    std::string err_text_;
};

} // namespace jobssh::testing
