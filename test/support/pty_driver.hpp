#pragma once

// Drives a program on a pty the test owns, as a person at a terminal would: keystrokes in,
// expected output awaited with a bound, resizes. For the end-to-end tests of `connect`.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace jobssh::testing {

class pty_driver {
public:
    // Starts argv[0] (looked up in PATH) on a new pty of `rows` x `columns`, with TERM=xterm.
    explicit pty_driver(const std::vector<std::string>& argv, unsigned short rows = 24,
                        unsigned short columns = 80);
    ~pty_driver(); // SIGKILL when still running
    pty_driver(const pty_driver&) = delete;
    pty_driver& operator=(const pty_driver&) = delete;

    void send(std::string_view keys);

    // Waits until `text` appears in the output after what earlier expects consumed, and
    // consumes up to its end. False when it did not come within `bound` (or the program
    // ended first).
    bool expect(std::string_view text, std::chrono::milliseconds bound = std::chrono::seconds(30));

    // Sets the terminal's size; the kernel tells the program with SIGWINCH.
    void resize(unsigned short rows, unsigned short columns);

    // Resizes, then asks the remote shell's `stty size` (up to 20 times, a second each) until
    // it answers with the new size: the size travels every hop of the chain to the VM. False
    // when it never did.
    bool resize_until_the_shell_sees_it(unsigned short rows, unsigned short columns);

    // Waits for the program's end, reading its output meanwhile: its exit status (128+N
    // when killed by signal N), nullopt when it did not end within `bound`.
    std::optional<int> wait(std::chrono::milliseconds bound = std::chrono::seconds(30));

    void kill(int signal);
    pid_t pid() const { return pid_; }
    // Everything the program wrote so far.
    const std::string& output() const { return output_; }

private:
    // Reads what is there within `timeout_ms`; false once the pty closed.
    bool read_some(int timeout_ms);

    pid_t pid_ = -1;
    int master_ = -1;
    bool closed_ = false;
    std::string output_;
    std::size_t consumed_ = 0;
    std::optional<int> status_;
};

} // namespace jobssh::testing
