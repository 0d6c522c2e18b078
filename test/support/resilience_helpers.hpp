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

// No jobssh-shell of `config_file` runs, nor a watcher one started: waited for with
// eventually's bound.
inline bool no_shell_or_watcher_left(const std::filesystem::path& config_file) {
    return eventually(
        [&] { return shells_of(config_file).empty() && watchers_of(config_file).empty(); });
}

// A program started with stdin /dev/null and stdout and stderr pipes, whose read ends (out_,
// err_) are ours; killed (SIGKILL) and reaped when it still runs as this goes. pid_ is -1 when
// it could not be started.
class spawned_with_pipes {
public:
    // argv[0] is looked up in PATH. `environment` nullopt: this process's. `stdout_file` not
    // empty: stdout goes to that file (made or emptied) instead, and the stdout pipe only
    // ever reads its end.
    explicit spawned_with_pipes(const std::vector<std::string>& argv,
                                std::optional<std::vector<std::string>> environment = {},
                                const std::filesystem::path& stdout_file = {}) {
        int out[2], err[2];
        if (::pipe2(out, O_CLOEXEC) != 0)
            return;
        if (::pipe2(err, O_CLOEXEC) != 0) {
            ::close(out[0]);
            ::close(out[1]);
            return;
        }
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        if (stdout_file.empty())
            posix_spawn_file_actions_adddup2(&actions, out[1], 1);
        else
            posix_spawn_file_actions_addopen(&actions, 1, stdout_file.c_str(),
                                             O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_adddup2(&actions, err[1], 2);
        auto args = pointers_to(argv);
        auto env = environment ? pointers_to(*environment) : std::vector<char*>{};
        if (::posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(),
                           environment ? env.data() : environ) != 0)
            pid_ = -1;
        posix_spawn_file_actions_destroy(&actions);
        ::close(out[1]);
        ::close(err[1]);
        out_ = out[0];
        err_ = err[0];
    }
    ~spawned_with_pipes() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        if (out_ >= 0)
            ::close(out_);
        if (err_ >= 0)
            ::close(err_);
    }
    spawned_with_pipes(const spawned_with_pipes&) = delete;
    spawned_with_pipes& operator=(const spawned_with_pipes&) = delete;

    pid_t pid() const { return pid_; }

protected:
    pid_t pid_ = -1;
    int out_ = -1;
    int err_ = -1;

private:
    // execve's view of `words`: pointers into them, then a null pointer.
    static std::vector<char*> pointers_to(const std::vector<std::string>& words) {
        std::vector<char*> pointers;
        for (const auto& w : words)
            pointers.push_back(const_cast<char*>(w.c_str()));
        pointers.push_back(nullptr);
        return pointers;
    }
};

// A program with stdin /dev/null and stdout/stderr pipes we read as they come.
class started_program : public spawned_with_pipes {
public:
    explicit started_program(const std::vector<std::string>& argv)
        : spawned_with_pipes(argv) {}

    const std::string& out() const { return out_text_; }
    const std::string& err() const { return err_text_; }

    // Reads until stdout (stderr) holds `text` or `bound` passed; true when it came.
    bool read_until(std::string_view text,
                    std::chrono::milliseconds bound = std::chrono::seconds(30)) {
        return read_until_in(out_text_, text, bound);
    }
    bool read_err_until(std::string_view text,
                        std::chrono::milliseconds bound = std::chrono::seconds(30)) {
        return read_until_in(err_text_, text, bound);
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
    bool read_until_in(const std::string& seen, std::string_view text,
                       std::chrono::milliseconds bound) {
        auto until = std::chrono::steady_clock::now() + bound;
        while (seen.find(text) == std::string::npos) {
            if (std::chrono::steady_clock::now() >= until || !read_some(100))
                return seen.find(text) != std::string::npos;
        }
        return true;
    }

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

    bool out_closed_ = false;
    bool err_closed_ = false;
    std::string out_text_;
    std::string err_text_;
};

} // namespace jobssh::testing
