#pragma once

// What the figures share: running jobssh-shell as sshd runs it, the interleaved A/B rule,
// reading a child's stdout as it comes, writing jobs and logs into the sandbox, and the
// arithmetic and units of the table.

#include "figures.hpp"
#include "process.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace jobssh::bench {

constexpr double ns_per_ms = 1e6;

// The A/B rule of every figure: `rounds` rounds in which each of `ways` runs once, each round
// starting with the next way, so that none always runs first after a pause (or always right
// after the busiest).
void interleaved(int rounds, const std::vector<std::function<void()>>& ways);

// A way for interleaved(): runs `options` to its end, requires exit 0 (else throws, naming
// `what` and the end of `err`), and adds its wall time to `wall_ms` and, when given, its CPU
// time (user+system) to `cpu_ms`.
std::function<void()> timed_way(const spawn_options& options, const std::string& what,
                                const std::filesystem::path& err, std::vector<double>& wall_ms,
                                std::vector<double>* cpu_ms = nullptr);

// A figure whose result is the ratio of the medians of `a` (jobssh) and `b` (`baseline`),
// with the spread of the pair-by-pair ratios; `met` judges the ratio against `goal`.
figure ratio_figure(const std::string& name, const std::vector<double>& a,
                    const std::vector<double>& b, const std::string& baseline,
                    const std::function<std::string(double)>& unit, int digits,
                    const std::string& goal, const std::function<bool(double)>& met);

// jobssh-shell as sshd starts it for alice's key, and the command sshd passes it.
std::vector<std::string> shell_argv(const bench_context& ctx);
// The same, run as the sandbox's front sshd runs it (its login user, through setpriv, when
// we are root): files it leaves in state-dir (a job's master connection, its lock) are then
// the ones the user's sessions through the front sshd use too.
std::vector<std::string> shell_argv_as_sshd_runs_it(const bench_context& ctx);
std::string command_env(const std::string& command);

int open_for_stderr(const std::filesystem::path& path);
void require_exit(const exit_info& exit, int expected, const std::string& what,
                  const std::filesystem::path& err);

std::string ms(double v);
// The median of `samples_ms` with its spread: "1.23 ms (1.10–1.40)".
std::string median_ms(const std::vector<double>& samples_ms);
std::string mib_s(double bytes_per_s);
// getrusage counts in clock ticks on some kernels: a mean over many runs is still exact.
double mean(const std::vector<double>& v);
// Pair by pair, a[i] / b[i] and a[i] - b[i].
std::vector<double> ratios(const std::vector<double>& a, const std::vector<double>& b);
std::vector<double> differences(const std::vector<double>& a, const std::vector<double>& b);

// Stdout of a program we read ourselves, line by line, as it comes. (Its declaration starts
// like any class owning a resource, sandbox's among them; `duplicates` lists the two.)
class pipe_reader {
public:
    explicit pipe_reader(int fd);
    ~pipe_reader();
    pipe_reader(const pipe_reader&) = delete;
    pipe_reader& operator=(const pipe_reader&) = delete;

    // Reads until the whole line `line` (without its newline) has come; returns the
    // monotonic time of the read that completed it.
    std::int64_t wait_line(const std::string& line, std::chrono::milliseconds bound);
    // Reads what is there now; false at end of file.
    bool read_some();
    void read_to_end(std::chrono::milliseconds bound);

    int fd() const { return fd_; }
    bool eof() const { return eof_; }
    std::string& buffer() { return buffer_; }
    std::uint64_t total() const { return total_; }

private:
    int fd_;
    std::string buffer_;
    std::int64_t last_read_ = 0;
    std::uint64_t total_ = 0;
    bool eof_ = false;
};

struct piped_child {
    pid_t pid;
    std::unique_ptr<pipe_reader> out;
};

piped_child spawn_piped(spawn_options options);

void append_to(const std::filesystem::path& file, const std::string& text);
// A job of alice's that the tests step by hand (set_job), with these tasks.
std::string manual_job(std::int64_t id, const std::vector<std::string>& tasks,
                       const std::string& status);
void finish_job(bench_context& ctx, std::int64_t id, int tasks);

} // namespace jobssh::bench
