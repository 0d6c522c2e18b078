// A small program the pty, relay and session registry tests run as a real child process,
// driven by argv (Boost.Process's test/v2/target.cpp pattern).
//
//   exit N                   exits with N
//   cat                      copies stdin to stdout until EOF, then exits 0
//   flood BYTES CODE         writes BYTES bytes, byte i being i mod 251 (flood_pattern.hpp),
//                            exits CODE at once; on a terminal it first makes it raw, as
//                            ssh does, so that the bytes pass untranslated
//   apart                    writes "to stdout" to stdout and "to stderr" to stderr
//   complain TEXT CODE       writes TEXT to stderr only, exits CODE
//   raw TEXT                 makes its terminal raw as ssh does when its session begins,
//                            prints "raw", writes TEXT to stderr, exits 0 on a key
//   tty                      "controlling tty" when /dev/tty opens, else "no tty"
//   size                     the size of the terminal on stdin: "size ROWS COLS"
//   sizes                    prints the size, then again on every SIGWINCH; ends on stdin EOF
//   line                     reads one line from stdin, prints "got <line>"
//   group                    starts a grandchild that sleeps, prints "pids CHILD GRANDCHILD"
//   stubborn                 ignores SIGHUP, prints "stubborn", sleeps
//   hold JOB STATE_DIR [KIND [LOG]]
//                            registers a session of JOB, started as KIND (interactive, the
//                            default, or command; joining: not started), prints "held", waits
//                            for stdin EOF, leaves, prints the verdict ("terminate", "linger",
//                            "keep"). With LOG: appends "joined" to it once registered, and
//                            "terminate" while still holding the job's lock on that verdict

#include "flood_pattern.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <iostream>
#include <jobssh/connect/session_registry.hpp>
#include <poll.h>
#include <signal.h>
#include <string>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

namespace {

volatile sig_atomic_t resized = 0;

void print(const std::string& text) {
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
}

void print_size() {
    winsize ws{};
    ::ioctl(STDIN_FILENO, TIOCGWINSZ, &ws);
    print("size " + std::to_string(ws.ws_row) + " " + std::to_string(ws.ws_col) + "\n");
}

int sizes() {
    struct sigaction on_winch {};
    on_winch.sa_handler = [](int) { resized = 1; };
    ::sigaction(SIGWINCH, &on_winch, nullptr);
    // SIGWINCH is let in only while ppoll waits, so that none slips in unnoticed.
    sigset_t winch, waiting;
    sigemptyset(&winch);
    sigaddset(&winch, SIGWINCH);
    ::sigprocmask(SIG_BLOCK, &winch, &waiting);
    sigdelset(&waiting, SIGWINCH);
    print_size();
    for (;;) {
        pollfd input{STDIN_FILENO, POLLIN, 0};
        int ready = ::ppoll(&input, 1, nullptr, &waiting);
        if (resized) {
            resized = 0;
            print_size();
        }
        char c;
        if (ready > 0 && ::read(STDIN_FILENO, &c, 1) <= 0)
            return 0;
    }
}

int flood(long bytes, int code) {
    if (::isatty(STDOUT_FILENO)) {
        termios raw{};
        ::tcgetattr(STDOUT_FILENO, &raw);
        ::cfmakeraw(&raw);
        ::tcsetattr(STDOUT_FILENO, TCSADRAIN, &raw);
    }
    // One period more than a write, so that a write can start at any phase of the pattern
    // where the last (maybe partial) one ended.
    constexpr long most = 65536;
    std::string pattern(most + jobssh::testing::flood_period, '\0');
    for (std::size_t i = 0; i < pattern.size(); ++i)
        pattern[i] = jobssh::testing::flood_byte(i);
    long position = 0;
    while (position < bytes) {
        auto n = std::min(bytes - position, most);
        auto written =
            ::write(STDOUT_FILENO, pattern.data() + position % jobssh::testing::flood_period,
                    static_cast<size_t>(n));
        if (written <= 0)
            return 99;
        position += written;
    }
    return code;
}

int group() {
    pid_t grandchild = ::fork();
    if (grandchild == 0) {
        ::execlp("sleep", "sleep", "1000", static_cast<char*>(nullptr));
        ::_exit(127);
    }
    print("pids " + std::to_string(::getpid()) + " " + std::to_string(grandchild) + "\n");
    for (;;)
        ::pause();
}

void append(const std::string& log, const char* line) {
    if (log.empty())
        return;
    int fd = ::open(log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    [[maybe_unused]] auto ignored = ::write(fd, line, std::strlen(line));
    ::close(fd);
}

int hold(const char* job, const char* state_dir, std::string kind, std::string log) {
    jobssh::session_registration session(state_dir, std::atoll(job));
    append(log, "joined\n");
    if (kind == "interactive")
        session.started(jobssh::session_kind::interactive);
    else if (kind == "command")
        session.started(jobssh::session_kind::command);
    print("held\n");
    char c;
    while (::read(STDIN_FILENO, &c, 1) > 0) {
    }
    auto decision = session.leave(true);
    switch (decision.verdict) {
    case jobssh::vm_verdict::terminate:
        append(log, "terminate\n");
        print("terminate\n");
        break;
    case jobssh::vm_verdict::linger:
        print("linger\n");
        break;
    case jobssh::vm_verdict::keep:
        print("keep\n");
        break;
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2)
        return 64;
    std::string command = argv[1];
    if (command == "exit" && argc == 3)
        return std::atoi(argv[2]);
    if (command == "cat") {
        char buffer[4096];
        for (;;) {
            auto n = ::read(STDIN_FILENO, buffer, sizeof buffer);
            if (n <= 0)
                return 0;
            if (::write(STDOUT_FILENO, buffer, static_cast<size_t>(n)) != n)
                return 99;
        }
    }
    if (command == "flood" && argc == 4)
        return flood(std::atol(argv[2]), std::atoi(argv[3]));
    if (command == "apart") {
        print("to stdout\n");
        std::fputs("to stderr\n", stderr);
        return 0;
    }
    if (command == "complain" && argc == 4) {
        std::fputs(argv[2], stderr);
        return std::atoi(argv[3]);
    }
    if (command == "raw" && argc == 3) {
        termios raw{};
        ::tcgetattr(STDIN_FILENO, &raw);
        ::cfmakeraw(&raw);
        ::tcsetattr(STDIN_FILENO, TCSADRAIN, &raw);
        print("raw\n");
        std::fputs(argv[2], stderr);
        char key;
        return ::read(STDIN_FILENO, &key, 1) == 1 ? 0 : 1;
    }
    if (command == "tty") {
        int fd = ::open("/dev/tty", O_RDWR);
        print(fd >= 0 ? "controlling tty\n" : "no tty\n");
        return 0;
    }
    if (command == "size") {
        print_size();
        return 0;
    }
    if (command == "sizes")
        return sizes();
    if (command == "line") {
        std::string line;
        std::getline(std::cin, line);
        print("got " + line + "\n");
        return 0;
    }
    if (command == "group")
        return group();
    if (command == "stubborn") {
        ::signal(SIGHUP, SIG_IGN);
        print("stubborn\n");
        for (;;)
            ::pause();
    }
    if (command == "hold" && argc >= 4 && argc <= 6)
        return hold(argv[2], argv[3], argc > 4 ? argv[4] : "interactive", argc > 5 ? argv[5] : "");
    return 64;
}
