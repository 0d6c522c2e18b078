#define BOOST_TEST_MODULE connect
#include <boost/test/unit_test.hpp>
#include <jobssh/api/runner.hpp>
#include <jobssh/common/config.hpp>
#include <jobssh/connect/connect.hpp>

using namespace std::chrono_literals;
using clock_type = std::chrono::system_clock;

namespace {

std::string from_now(clock_type::duration delta) {
    auto now = clock_type::from_time_t(1700000000);
    return jobssh::humanize_from_now(now + delta, now);
}

} // namespace

BOOST_AUTO_TEST_CASE(times_read_like_python_humanize_rounded_down) {
    BOOST_TEST(from_now(4h) == "4 hours from now");
    BOOST_TEST(from_now(4h - 20s) == "3 hours from now"); // a fresh job's VM, a moment later
    BOOST_TEST(from_now(1h) == "an hour from now");
    BOOST_TEST(from_now(2h - 1s) == "an hour from now");
    BOOST_TEST(from_now(10min) == "10 minutes from now");
    BOOST_TEST(from_now(94s) == "a minute from now"); // not "2 minutes": less than that is left
    BOOST_TEST(from_now(1min) == "a minute from now");
    BOOST_TEST(from_now(59s) == "59 seconds from now");
    BOOST_TEST(from_now(45s) == "45 seconds from now");
    BOOST_TEST(from_now(1s) == "a second from now");
    BOOST_TEST(from_now(0s) == "now");
    BOOST_TEST(from_now(-5min) == "5 minutes ago");
    BOOST_TEST(from_now(48h) == "2 days from now");
}

BOOST_AUTO_TEST_CASE(the_banner_names_the_job_its_page_and_when_the_vm_goes) {
    jobssh::config cfg;
    cfg.builds_origin = "https://builds.example.org";
    jobssh::job_info info;
    info.status = jobssh::job_status::running;
    info.username = "alice";
    auto now = clock_type::from_time_t(1700000000);
    info.deadline = std::chrono::sys_seconds(std::chrono::seconds(1700000000 + 4 * 3600));
    BOOST_TEST(
        jobssh::connect_banner(cfg, 4211, info, now) ==
        "Connected to build job #4211 (running): https://builds.example.org/~alice/job/4211\n"
        "Your VM will be terminated 4 hours from now, or when you log out.\n"
        "\n");
}
