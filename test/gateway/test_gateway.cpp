#define BOOST_TEST_MODULE gateway
#include "scratch_dir.hpp"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <jobssh/common/config.hpp>
#include <jobssh/common/gateway_keys.hpp>
#include <jobssh/gateway/hop.hpp>
#include <jobssh/keys/authorized_keys.hpp>
#include <string>
#include <vector>

using jobssh::config_error;
using jobssh::load_config;
using jobssh::parse_gateway_command;
using jobssh::testing::scratch_dir;

namespace {

const std::string ed25519 = "AAAAC3NzaC1lZDI1NTE5AAAAIGgrUHHEdqhBhO9bR5fJkxx5PPGTYPl1vE1Cbrjs2Kv5";

bool has_pair(const std::vector<std::string>& argv, const std::string& option,
              const std::string& value) {
    for (std::size_t i = 0; i + 1 < argv.size(); ++i)
        if (argv[i] == option && argv[i + 1] == value)
            return true;
    return false;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_gateway_reads_its_runners_and_how_to_reach_them) {
    scratch_dir dir;
    auto cfg = load_config(dir.write("config.ini", R"([jobssh::gateway]
runners = runner1.example.org:8080, 10.0.0.2:8123
ssh-user = jobs
ssh-port = 2222
identity = /var/lib/jobssh/gateway/id_ed25519
known-hosts = /etc/jobssh/runners_known_hosts
)"));
    BOOST_TEST_REQUIRE(cfg.gateway.runners.size() == 2u);
    BOOST_TEST(cfg.gateway.runners[0].host == "runner1.example.org");
    BOOST_TEST(cfg.gateway.runners[0].port == 8080);
    BOOST_TEST(cfg.gateway.runners[1].host == "10.0.0.2");
    BOOST_TEST(cfg.gateway.runners[1].port == 8123);
    BOOST_TEST(cfg.gateway.ssh_user == "jobs");
    BOOST_TEST(cfg.gateway.ssh_port == 2222);
    BOOST_TEST(cfg.gateway.known_hosts == "/etc/jobssh/runners_known_hosts");
}

BOOST_AUTO_TEST_CASE(a_host_without_runners_is_no_gateway) {
    scratch_dir dir;
    auto cfg = load_config(dir.write("config.ini", "[jobssh::gateway]\ngateway-keys = /k\n"));
    BOOST_TEST(cfg.gateway.runners.empty());
    BOOST_TEST(cfg.gateway.gateway_keys == "/k");
}

BOOST_AUTO_TEST_CASE(a_malformed_runner_list_is_an_error_naming_its_line) {
    scratch_dir dir;
    for (const char* runners : {"runner1", "runner1:0", "-oProxyCommand=x:22", "a:99999"}) {
        auto file = dir.write("config.ini", std::string("[jobssh::gateway]\nidentity = /i\n"
                                                        "known-hosts = /k\nrunners = ") +
                                                runners + "\n");
        try {
            load_config(file);
            BOOST_ERROR("accepted runners = " << runners);
        } catch (const config_error& error) {
            BOOST_TEST(std::string(error.what()).find(":4: [jobssh::gateway] runners") !=
                           std::string::npos,
                       error.what());
        }
    }
}

BOOST_AUTO_TEST_CASE(runners_without_an_identity_and_known_hosts_are_an_error) {
    scratch_dir dir;
    BOOST_CHECK_THROW(load_config(dir.write("config.ini", "[jobssh::gateway]\nrunners = a:1\n")),
                      config_error);
}

// OpenSSH's fingerprint of some ed25519 key: SHA256: and 43 base64 characters.
const std::string fingerprint = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";

BOOST_AUTO_TEST_CASE(the_gateway_command_names_the_user_and_keeps_the_command_byte_for_byte) {
    std::string original = "connect 4211 -- sh -c 'cat;  exit 7' \"$HOME\"";
    auto request = parse_gateway_command(jobssh::gateway_command("alice", fingerprint, original));
    BOOST_TEST_REQUIRE(request.has_value());
    BOOST_TEST(request->user == "alice");
    BOOST_TEST(request->fingerprint == fingerprint);
    BOOST_TEST(request->original_command == original);
}

BOOST_AUTO_TEST_CASE(a_gateway_that_names_no_key_is_still_understood_and_names_none) {
    BOOST_TEST(jobssh::gateway_command("alice", "", "tail 1") == "as alice tail 1");
    auto request = parse_gateway_command("as alice tail 1");
    BOOST_TEST_REQUIRE(request.has_value());
    BOOST_TEST(request->user == "alice");
    BOOST_TEST(request->fingerprint.empty());
    BOOST_TEST(request->original_command == "tail 1");
}

BOOST_AUTO_TEST_CASE(a_fingerprint_that_is_not_sha256_and_43_base64_characters_is_never_sent) {
    for (const std::string& bad : std::vector<std::string>{
             "SHA256:short", fingerprint + "A", fingerprint + "=", "MD5:" + fingerprint,
             "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2-",
             "SHA256:uNiVztksCsDhcc0u9e8 ujQXVUpKZIDTMczCvj3tD2s"}) {
        BOOST_TEST(!jobssh::valid_fingerprint(bad), bad);
        BOOST_TEST(jobssh::gateway_command("alice", bad, "tail 1") == "as alice tail 1", bad);
    }
}

BOOST_AUTO_TEST_CASE(a_command_without_a_well_formed_user_names_nobody) {
    for (const char* command : {"", "tail 1", "as", "as ", "as  alice tail 1", "as ALICE tail 1",
                                "as alice;id tail 1", "as -alice tail 1", "asalice tail 1"})
        BOOST_TEST(!parse_gateway_command(command).has_value(), command);
}

BOOST_AUTO_TEST_CASE(a_keyed_command_without_a_well_formed_user_and_key_names_nobody) {
    for (const std::string& command : std::vector<std::string>{
             "as-key", "as-key alice", "as-key alice tail 1", "as-key alice SHA256:short tail 1",
             "as-key  alice " + fingerprint + " tail 1", "as-key alice  " + fingerprint + " tail 1",
             "as-key ALICE " + fingerprint + " tail 1", "as-key alice " + fingerprint + "X tail 1",
             "as-key " + fingerprint + " alice tail 1"})
        BOOST_TEST(!parse_gateway_command(command).has_value(), command);
}

BOOST_AUTO_TEST_CASE(the_hop_pins_the_runners_keys_and_takes_no_escape_or_user_config) {
    jobssh::config cfg;
    cfg.gateway.identity = "/id";
    cfg.gateway.known_hosts = "/known";
    cfg.gateway.ssh_port = 2222;
    auto argv = jobssh::hop_ssh_argv(cfg, {"runner1", 8080}, false, "/log", "as alice tail 1");
    BOOST_TEST(argv.front() == "-T");
    BOOST_TEST(has_pair(argv, "-e", "none"));
    BOOST_TEST(has_pair(argv, "-F", "none"));
    BOOST_TEST(has_pair(argv, "-p", "2222"));
    BOOST_TEST(has_pair(argv, "-i", "/id"));
    BOOST_TEST(has_pair(argv, "-o", "UserKnownHostsFile=/known"));
    BOOST_TEST(has_pair(argv, "-o", "StrictHostKeyChecking=yes"));
    BOOST_TEST(has_pair(argv, "-o", "BatchMode=yes"));
    BOOST_TEST(has_pair(argv, "-E", "/log"));
    BOOST_TEST(argv[argv.size() - 2] == "builds@runner1");
    BOOST_TEST(argv.back() == "as alice tail 1");
    BOOST_TEST(jobssh::hop_ssh_argv(cfg, {"runner1", 8080}, true, "/log", "x").front() == "-tt");
    // Alone it never touches a master; with one it rides it and never becomes one.
    BOOST_TEST(has_pair(argv, "-o", "ControlPath=none"));
    auto riding = jobssh::hop_ssh_argv(cfg, {"runner1", 8080}, false, "/log", "as alice tail 1",
                                       std::filesystem::path("/state/mux-runner1-2222-0a1b2c3d"));
    BOOST_TEST(has_pair(riding, "-o", "ControlMaster=no"));
    BOOST_TEST(has_pair(riding, "-o", "ControlPath=/state/mux-runner1-2222-0a1b2c3d"));
    BOOST_TEST(!has_pair(riding, "-o", "ControlPath=none"));
    BOOST_TEST(riding.back() == "as alice tail 1");
}

BOOST_AUTO_TEST_CASE(only_keys_listed_in_the_gateway_keys_file_are_gateway_keys) {
    scratch_dir dir;
    auto file = dir.write("gateway_keys", "# the gateways\n\nssh-ed25519 " + ed25519 +
                                              " gateway@ci\nssh-ed25519 AAAAother\n");
    BOOST_TEST(jobssh::listed_gateway_key(file, ed25519));
    BOOST_TEST(jobssh::listed_gateway_key(file, "AAAAother"));
    BOOST_TEST(!jobssh::listed_gateway_key(file, "AAAAothe"));
    BOOST_TEST(!jobssh::listed_gateway_key(file, "gateway@ci"));
    BOOST_CHECK_THROW(jobssh::listed_gateway_key(dir.path() / "missing", ed25519), config_error);
}

BOOST_AUTO_TEST_CASE(a_gateway_key_gets_the_forced_command_that_reads_a_user_name) {
    BOOST_TEST(jobssh::gateway_authorized_keys_line("/usr/bin/jobssh-shell", std::nullopt,
                                                    "ssh-ed25519", ed25519) ==
               "restrict,pty,command=\"/usr/bin/jobssh-shell --gateway '" + ed25519 +
                   "'\" ssh-ed25519 " + ed25519 + " gateway\n");
}
