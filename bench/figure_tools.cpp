#include "figure_tools.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <stdexcept>
#include <unistd.h>

namespace fs = std::filesystem;

namespace jobssh::bench {

void interleaved(int rounds, const std::vector<std::function<void()>>& ways) {
    for (int r = 0; r < rounds; ++r)
        for (std::size_t k = 0; k < ways.size(); ++k)
            ways[(static_cast<std::size_t>(r) + k) % ways.size()]();
}

std::function<void()> timed_way(const spawn_options& options, const std::string& what,
                                const fs::path& err, std::vector<double>& wall_ms,
                                std::vector<double>* cpu_ms) {
    return [&options, what, err, &wall_ms, cpu_ms] {
        auto run = run_timed(options);
        require_exit(run.exit, 0, what, err);
        wall_ms.push_back(run.wall_ns / ns_per_ms);
        if (cpu_ms)
            cpu_ms->push_back(run.exit.cpu_seconds * 1000);
    };
}

figure ratio_figure(const std::string& name, const std::vector<double>& a,
                    const std::vector<double>& b, const std::string& baseline,
                    const std::function<std::string(double)>& unit, int digits,
                    const std::string& goal, const std::function<bool(double)>& met) {
    double ratio = median(a) / median(b);
    return {name,
            unit(median(a)),
            baseline + ": " + unit(median(b)),
            fixed(ratio, digits) + "× (" + spread(ratios(a, b), digits) + ")",
            goal,
            met(ratio) ? "met" : "missed",
            {}};
}

std::vector<std::string> shell_argv(const bench_context& ctx) {
    return {JOBSSH_SHELL_PROGRAM, "--config", ctx.world.config_file().string(),
            ctx.world.public_key_b64("alice")};
}

std::vector<std::string> shell_argv_as_sshd_runs_it(const bench_context& ctx) {
    auto argv = shell_argv(ctx);
    if (::geteuid() != 0)
        return argv;
    const std::string user = ctx.world.login_user();
    argv.insert(argv.begin(), {"setpriv", "--reuid", user, "--regid", user, "--init-groups", "--"});
    return argv;
}

std::string command_env(const std::string& command) {
    return "SSH_ORIGINAL_COMMAND=" + command;
}

int open_for_stderr(const fs::path& path) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        throw std::runtime_error("cannot open " + path.string());
    return fd;
}

std::string last_lines(const fs::path& path) {
    auto text = read_file(path.string());
    return text.size() > 600 ? text.substr(text.size() - 600) : text;
}

void require_exit(const exit_info& exit, int expected, const std::string& what,
                  const fs::path& err) {
    if (exit.status != expected)
        throw std::runtime_error(what + " exited " + std::to_string(exit.status) + " (expected " +
                                 std::to_string(expected) + "); stderr: " + last_lines(err));
}

std::string ms(double v) {
    return fixed(v, v < 1 ? 3 : 2) + " ms";
}

std::string median_ms(const std::vector<double>& samples_ms) {
    return ms(median(samples_ms)) + " (" + spread(samples_ms, 2) + ")";
}

std::string mib_s(double bytes_per_s) {
    return fixed(bytes_per_s / (1024.0 * 1024.0), 0) + " MiB/s";
}

double mean(const std::vector<double>& v) {
    double sum = 0;
    for (double x : v)
        sum += x;
    return v.empty() ? 0 : sum / static_cast<double>(v.size());
}

std::vector<double> ratios(const std::vector<double>& a, const std::vector<double>& b) {
    std::vector<double> r;
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i)
        r.push_back(a[i] / b[i]);
    return r;
}

std::vector<double> differences(const std::vector<double>& a, const std::vector<double>& b) {
    std::vector<double> d;
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i)
        d.push_back(a[i] - b[i]);
    return d;
}

piped_child spawn_piped(spawn_options options) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    options.out = fds[1];
    pid_t pid = spawn(options);
    ::close(fds[1]);
    return {pid, std::make_unique<pipe_reader>(fds[0])};
}

void append_to(const fs::path& file, const std::string& text) {
    int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
        throw std::runtime_error("cannot append to " + file.string());
    ::close(fd);
}

std::string manual_job(std::int64_t id, const std::vector<std::string>& tasks,
                       const std::string& status) {
    std::string list;
    for (const auto& t : tasks)
        list += (list.empty() ? "" : ",") + std::string("{\"name\":\"") + t + "\"}";
    return "{\"id\":" + std::to_string(id) +
           ",\"owner\":\"alice\",\"owner_id\":1,\"manual\":true,\"status\":\"" + status +
           "\",\"tasks\":[" + list + "]}";
}

void finish_job(bench_context& ctx, std::int64_t id, int tasks) {
    auto n = std::to_string(tasks);
    ctx.world.set_job(id, "{\"status\":\"success\",\"task\":" + n + ",\"tasks\":" + n + "}");
}

pipe_reader::pipe_reader(int fd)
    : fd_(fd) {
    ::fcntl(fd_, F_SETFL, O_NONBLOCK);
}

pipe_reader::~pipe_reader() {
    ::close(fd_);
}

std::int64_t pipe_reader::wait_line(const std::string& line, std::chrono::milliseconds bound) {
    auto needle = line + "\n";
    auto end = now_ns() + std::chrono::nanoseconds(bound).count();
    for (;;) {
        if (auto at = buffer_.find(needle); at != std::string::npos) {
            buffer_.erase(0, at + needle.size());
            return last_read_;
        }
        if (eof_)
            throw std::runtime_error("output ended before \"" + line + "\"");
        auto left = (end - now_ns()) / 1000000;
        if (left <= 0)
            throw std::runtime_error("\"" + line +
                                     "\" did not come in time; have: " + buffer_.substr(0, 300));
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left)) > 0)
            read_some();
    }
}

bool pipe_reader::read_some() {
    char chunk[65536];
    for (;;) {
        ssize_t n = ::read(fd_, chunk, sizeof chunk);
        if (n > 0) {
            last_read_ = now_ns();
            buffer_.append(chunk, static_cast<std::size_t>(n));
            total_ += static_cast<std::uint64_t>(n);
            continue;
        }
        if (n == 0)
            eof_ = true;
        else if (errno == EINTR)
            continue;
        return !eof_;
    }
}

void pipe_reader::read_to_end(std::chrono::milliseconds bound) {
    auto end = now_ns() + std::chrono::nanoseconds(bound).count();
    while (!eof_ && now_ns() < end) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) > 0)
            read_some();
    }
}

} // namespace jobssh::bench
