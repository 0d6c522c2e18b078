#pragma once

// Processes, pipes and ptys for the benchmark driver: plain POSIX, so that what we time is
// the measured program and not a framework around it.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace jobssh::bench {

// CLOCK_MONOTONIC in nanoseconds; the ssh stub writes the same clock.
std::int64_t now_ns();

struct spawn_options {
    std::vector<std::string> argv;
    std::vector<std::string> env; // "NAME=value", added to (or replacing in) our environment
    int in = -1;                  // -1: /dev/null
    int out = -1;
    int err = -1;
    bool controlling_tty = false; // new session, `in` becomes its controlling terminal
};

pid_t spawn(const spawn_options& options);

struct exit_info {
    int status = -1;      // exit status, 128+N when killed by signal N
    long max_rss_kib = 0; // getrusage's ru_maxrss of the child (and its waited children)
    double cpu_seconds = 0;
};

exit_info wait_exit(pid_t pid);
// Waits at most `bound`; then SIGKILLs the child (ours) and reports it as killed.
exit_info wait_exit_bounded(pid_t pid, std::chrono::milliseconds bound);

// Runs to completion with stdio on /dev/null (stderr to `err` when given); wall time in ns.
struct timed_run {
    exit_info exit;
    std::int64_t wall_ns = 0;
};
timed_run run_timed(const spawn_options& options);

// Runs with stdout on a pipe we drain ourselves; counts the bytes. When `keep` is given the
// output is kept there too. With `pipe_size`, the pipe is grown to it first (F_SETPIPE_SZ).
struct counted_run {
    exit_info exit;
    std::int64_t wall_ns = 0;
    std::uint64_t bytes = 0;
};
counted_run run_counting(spawn_options options, std::string* keep = nullptr, int pipe_size = 0);

// A program on a pty whose master we hold.
class pty_session {
public:
    pty_session(std::vector<std::string> argv, std::vector<std::string> env);
    ~pty_session();
    pty_session(const pty_session&) = delete;
    pty_session& operator=(const pty_session&) = delete;

    void send(std::string_view bytes);
    // Reads until `needle` has been seen; returns the bytes read. Throws after `bound`.
    std::uint64_t expect(std::string_view needle, std::chrono::milliseconds bound);
    // Reads until nothing came for `quiet`.
    void drain(std::chrono::milliseconds quiet);
    // Reads until at least one byte `c` arrives; returns the time it took from `since`.
    std::int64_t await_byte(char c, std::int64_t since, std::chrono::milliseconds bound);
    pid_t pid() const { return pid_; }
    // Ends the session (sends `exit`), waits for the program.
    exit_info finish(std::chrono::milliseconds bound);

private:
    int master_ = -1;
    pid_t pid_ = -1;
    bool finished_ = false;
    std::string recent_; // the last bytes read, so a needle split across reads is found
};

// A field of /proc/<pid>/status in KiB ("VmHWM", "RssAnon", "RssFile"); 0 when it is gone.
long status_kib(pid_t pid, const std::string& field);
// CPU time a live process has run, in ns (/proc/<pid>/schedstat: exact, where the tick-based
// utime+stime of /proc/<pid>/stat misses short wake-ups); -1 when it is gone.
long long cpu_ns(pid_t pid);

std::string read_file(const std::string& path);
void write_file(const std::string& path, std::string_view text);

} // namespace jobssh::bench
