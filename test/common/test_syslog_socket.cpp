// [jobssh] syslog-socket: records go to a unix datagram socket of the operator's (or the
// sandbox's) choosing, in the format syslog(3) writes to /dev/log.

#define BOOST_TEST_MODULE syslog_socket
#include "scratch_dir.hpp"

#include <boost/test/unit_test.hpp>
#include <jobssh/common/syslog.hpp>
#include <regex>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using jobssh::testing::scratch_dir;

namespace {

// A datagram socket bound in a scratch directory, as a syslog daemon binds /dev/log.
class receiver {
public:
    receiver()
        : fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        path().string().copy(address.sun_path, sizeof address.sun_path - 1);
        timeval bound{10, 0};
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
            ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound) != 0)
            throw std::runtime_error("cannot bind " + path().string());
    }
    ~receiver() { ::close(fd_); }
    receiver(const receiver&) = delete;
    receiver& operator=(const receiver&) = delete;

    std::filesystem::path path() const { return dir_.path() / "log"; }

    // The next record, waiting at most 10 s; "" when none came.
    std::string next() {
        char buffer[4096];
        auto n = ::recv(fd_, buffer, sizeof buffer, 0);
        return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
    }

private:
    scratch_dir dir_;
    int fd_;
};

} // namespace

BOOST_AUTO_TEST_CASE(records_go_to_the_named_socket_with_priority_time_ident_and_pid) {
    receiver daemon;
    jobssh::open_syslog("jobssh-test");
    jobssh::send_syslog_to(daemon.path());
    jobssh::log_info("job=7 outcome=success");
    jobssh::log_auth("user=alice outcome=unknown_key");
    jobssh::log_error("job=7 outcome=internal");
    const std::string pid = std::to_string(::getpid());
    const std::regex stamp("[A-Z][a-z]{2} [ 123][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} ");
    // daemon.info = 3*8+6, authpriv.info = 10*8+6, daemon.err = 3*8+3
    for (auto [priority, text] : {std::pair{"<30>", "job=7 outcome=success"},
                                  std::pair{"<86>", "user=alice outcome=unknown_key"},
                                  std::pair{"<27>", "job=7 outcome=internal"}}) {
        auto record = daemon.next();
        BOOST_TEST(record.starts_with(priority), record);
        BOOST_TEST(record.ends_with(" jobssh-test[" + pid + "]: " + text), record);
        BOOST_TEST(std::regex_search(record, stamp), record);
    }
    jobssh::send_syslog_to({});
}

BOOST_AUTO_TEST_CASE(a_record_sent_to_the_socket_keeps_control_characters_escaped) {
    receiver daemon;
    jobssh::open_syslog("jobssh-test");
    jobssh::send_syslog_to(daemon.path());
    jobssh::log_info("command=\"tail 1\nforged=yes\"");
    auto record = daemon.next();
    BOOST_TEST(record.ends_with("command=\"tail 1\\x0aforged=yes\""), record);
    jobssh::send_syslog_to({});
}

BOOST_AUTO_TEST_CASE(a_logged_value_shows_its_control_characters_escaped_never_as_question_marks) {
    // docs/operators.md: "Control characters a client sent are logged escaped (\x1b)".
    jobssh::log_fields line;
    line.add("command", "connect 1 -- printf '\x1b[31m'")
        .add("user", "al\x7fice")
        .add("detail", "a\tb\"c\\d");
    BOOST_TEST(line.line() == "command=\"connect 1 -- printf '\\x1b[31m'\" user=\"al\\x7fice\" "
                              "detail=\"a\\x09b\\\"c\\\\d\"",
               line.line());
    receiver daemon;
    jobssh::open_syslog("jobssh-test");
    jobssh::send_syslog_to(daemon.path());
    jobssh::log_info(line);
    auto record = daemon.next();
    BOOST_TEST(record.ends_with(": " + line.line()), record);
    BOOST_TEST(record.find('?') == std::string::npos, record);
    jobssh::send_syslog_to({});
}
