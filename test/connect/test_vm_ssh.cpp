#define BOOST_TEST_MODULE vm_ssh
#include "run_coroutine.hpp"
#include "sandbox.hpp"
#include "scratch_dir.hpp"

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <fstream>
#include <jobssh/api/runner.hpp>
#include <jobssh/common/config.hpp>
#include <jobssh/connect/control_master.hpp>
#include <jobssh/connect/vm_ssh.hpp>
#include <sstream>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using jobssh::testing::run_coroutine;

namespace {

jobssh::job_info vm_on(std::uint16_t port) {
    jobssh::job_info info;
    info.port = port;
    info.ssh_host = "127.0.0.1";
    return info;
}

std::uint16_t free_port() {
    asio::io_context ctx;
    asio::ip::tcp::acceptor probe(ctx, {asio::ip::address_v4::loopback(), 0});
    return probe.local_endpoint().port();
}

bool has(const std::vector<std::string>& argv, const std::string& word) {
    return std::find(argv.begin(), argv.end(), word) != argv.end();
}

} // namespace

BOOST_AUTO_TEST_CASE(a_vm_that_accepts_connections_is_up_at_once) {
    asio::io_context listening;
    asio::ip::tcp::acceptor vm(listening, {asio::ip::address_v4::loopback(), 0});
    int told = 0;
    bool up =
        run_coroutine(jobssh::wait_for_vm(vm_on(vm.local_endpoint().port()), 5s, [&] { ++told; }));
    BOOST_TEST(up);
    BOOST_TEST(told == 0);
}

BOOST_AUTO_TEST_CASE(a_vm_named_localhost_is_reached_on_loopback) {
    asio::io_context listening;
    asio::ip::tcp::acceptor vm(listening, {asio::ip::address_v4::loopback(), 0});
    auto info = vm_on(vm.local_endpoint().port());
    info.ssh_host = "localhost";
    int told = 0;
    BOOST_TEST(run_coroutine(jobssh::wait_for_vm(info, 5s, [&] { ++told; })));
    BOOST_TEST(told == 0);
}

BOOST_AUTO_TEST_CASE(a_vm_that_never_comes_up_is_given_up_on_and_the_user_told_once) {
    int told = 0;
    bool up = run_coroutine(jobssh::wait_for_vm(vm_on(free_port()), 1500ms, [&] { ++told; }));
    BOOST_TEST(!up);
    BOOST_TEST(told == 1);
}

BOOST_AUTO_TEST_CASE(the_ssh_command_line_pins_the_host_keys_when_the_runner_sent_them) {
    jobssh::config cfg;
    cfg.vm_identity = "/etc/jobssh/vm_key";
    auto info = vm_on(2222);
    info.ssh_host = "localhost";
    auto argv = jobssh::vm_ssh_argv(cfg, info, true, "", {std::filesystem::path("/run/kh"), {}});
    BOOST_TEST(argv.front() == "-t");
    BOOST_TEST(has(argv, "2222"));
    BOOST_TEST(has(argv, "/etc/jobssh/vm_key"));
    BOOST_TEST(has(argv, "UserKnownHostsFile=/run/kh"));
    BOOST_TEST(has(argv, "StrictHostKeyChecking=yes"));
    BOOST_TEST(has(argv, "BatchMode=yes"));
    BOOST_TEST(argv[argv.size() - 2] == "build@localhost");
    BOOST_TEST(argv.back() == "bash");

    auto one = jobssh::vm_ssh_argv(cfg, info, false, "sh -c 'cat; exit 7'", {});
    BOOST_TEST(one.front() == "-T");
    BOOST_TEST(has(one, "StrictHostKeyChecking=no"));
}

BOOST_AUTO_TEST_CASE(the_remote_command_is_one_argument_exactly_as_the_user_sent_it) {
    jobssh::config cfg;
    auto info = vm_on(2222);
    for (std::string command : {"sh -c cat; exit 7", "echo $HOME", "sh -c 'cat > /tmp/blob'",
                                "echo \"it's\" | tr a-z A-Z", "  x  ", "-- ls", "echo 'unclosed"}) {
        auto argv = jobssh::vm_ssh_argv(cfg, info, false, command, {});
        BOOST_TEST(argv.back() == command);
        BOOST_TEST(argv[argv.size() - 2] == "build@127.0.0.1");
        BOOST_TEST(argv[argv.size() - 3] == "--"); // nothing after it is an option of ssh's
    }
}

BOOST_AUTO_TEST_CASE(the_vm_s_ssh_takes_no_escape_sequences_with_or_without_a_terminal) {
    jobssh::config cfg;
    for (bool tty : {true, false}) {
        auto argv = jobssh::vm_ssh_argv(cfg, vm_on(22), tty, tty ? "" : "true", {});
        auto e = std::find(argv.begin(), argv.end(), "-e");
        BOOST_REQUIRE(e != argv.end());
        BOOST_TEST(*std::next(e) == "none");
    }
}

BOOST_AUTO_TEST_CASE(the_user_s_locale_is_sent_on_to_the_vm) {
    jobssh::config cfg;
    auto argv = jobssh::vm_ssh_argv(cfg, vm_on(22), true, "", {});
    BOOST_TEST(has(argv, "SendEnv=LANG LC_*"));
    BOOST_TEST(has(argv, "none")); // -F none: nothing else from a config file
}

BOOST_AUTO_TEST_CASE(ssh_s_diagnostics_go_to_their_file_when_one_is_given) {
    jobssh::config cfg;
    auto argv = jobssh::vm_ssh_argv(cfg, vm_on(22), true, "", {{}, std::filesystem::path("/s/d")});
    auto e = std::find(argv.begin(), argv.end(), "-E");
    BOOST_REQUIRE(e != argv.end());
    BOOST_TEST(*std::next(e) == "/s/d");
    BOOST_TEST(!has(jobssh::vm_ssh_argv(cfg, vm_on(22), true, "", {}), "-E"));
}

BOOST_AUTO_TEST_CASE(a_user_or_host_that_looks_like_an_option_is_refused) {
    jobssh::config cfg;
    auto info = vm_on(22);
    info.ssh_host = "-oProxyCommand=evil";
    BOOST_CHECK_THROW(jobssh::vm_ssh_argv(cfg, info, true, "", {}), std::invalid_argument);
    info = vm_on(22);
    info.ssh_user = "a b";
    BOOST_CHECK_THROW(jobssh::vm_ssh_argv(cfg, info, true, "", {}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(only_plain_names_reach_the_ssh_command_line) {
    jobssh::config cfg;
    for (std::string host : {"localhost", "127.0.0.1", "vm-4.runner_2.example", "_x"}) {
        auto info = vm_on(22);
        info.ssh_host = host;
        BOOST_CHECK_NO_THROW(jobssh::vm_ssh_argv(cfg, info, true, "", {}));
    }
    for (std::string host : {"", ".hidden", "-x", "a;b", "a:b", "[::1]", "host\n", "h\xc3\xa9"}) {
        auto info = vm_on(22);
        info.ssh_host = host;
        BOOST_CHECK_THROW(jobssh::vm_ssh_argv(cfg, info, true, "", {}), std::invalid_argument);
    }
}

BOOST_AUTO_TEST_CASE(a_host_key_is_pinned_only_in_type_and_base64_form) {
    auto dir = std::filesystem::temp_directory_path() / "jobssh-vm-ssh-keys-test";
    auto info = vm_on(2222);
    for (std::string key : {"ssh-ed25519 AAAAC3Nz", "ecdsa-sha2-nistp256 AAAA+/9=",
                            "sk-ssh-ed25519@openssh.com AAAA==", "ssh-rsa A"}) {
        info.host_keys = {key};
        BOOST_CHECK_NO_THROW(jobssh::pinned_host_keys(dir, info));
    }
    for (std::string key : {"", "ssh-ed25519", "ssh-ed25519 ", " AAAA", "Ssh-rsa AAAA",
                            "ssh-rsa AAAA===", "ssh-rsa ==", "ssh-rsa AA AA", "ssh-rsa  AAAA",
                            "ssh-rsa AA=A", "ssh-rsa AAAA comment", "ssh_rsa AAAA"}) {
        info.host_keys = {key};
        BOOST_CHECK_THROW(jobssh::pinned_host_keys(dir, info), std::invalid_argument);
    }
    std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(pinned_keys_are_written_in_known_hosts_form_and_removed_after) {
    auto dir = std::filesystem::temp_directory_path() / "jobssh-vm-ssh-test";
    auto info = vm_on(2222);
    info.ssh_host = "localhost";
    info.host_keys = {"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPin", "ssh-rsa AAAAB3Nza=="};
    std::filesystem::path file;
    {
        jobssh::pinned_host_keys pinned(dir, info);
        file = pinned.file();
        std::ifstream in(file);
        std::stringstream text;
        text << in.rdbuf();
        BOOST_TEST(text.str() == "[localhost]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPin\n"
                                 "[localhost]:2222 ssh-rsa AAAAB3Nza==\n");
    }
    BOOST_TEST(!std::filesystem::exists(file));
    info.host_keys = {"ssh-ed25519 AAAA\nlocalhost ssh-rsa EVIL"};
    BOOST_CHECK_THROW(jobssh::pinned_host_keys(dir, info), std::invalid_argument);
    std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(ssh_s_own_failures_become_jobssh_s_kinds) {
    using jobssh::failure;
    auto kind = [](int status, std::string_view said) {
        return jobssh::vm_ssh_failure(status, said);
    };
    BOOST_TEST(
        (kind(255, "@@@@\r\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\n") ==
         failure::vm_host_key));
    BOOST_TEST((kind(255, "Host key verification failed.\r\n") == failure::vm_host_key));
    BOOST_TEST((kind(255, "ssh: connect to host 127.0.0.1 port 2200: Connection refused\r\n") ==
                failure::vm_unreachable));
    BOOST_TEST((kind(255, "ssh: connect to host 10.0.0.9 port 22: Connection timed out\r\n") ==
                failure::vm_unreachable));
    BOOST_TEST(
        (kind(255, "build@127.0.0.1: Permission denied (publickey).\r\n") == failure::vm_login));
}

BOOST_AUTO_TEST_CASE(a_status_255_with_nothing_said_is_the_remote_command_s_own) {
    BOOST_TEST(!jobssh::vm_ssh_failure(255, "").has_value());
    BOOST_TEST(!jobssh::vm_ssh_failure(1, "Host key verification failed.\r\n").has_value());
    BOOST_TEST(!jobssh::vm_ssh_failure(0, "").has_value());
    // Words of ssh's that name no failure of ours leave the status as it is.
    BOOST_TEST(!jobssh::vm_ssh_failure(255, "client_loop: send disconnect: Broken pipe\r\n"));
}

BOOST_AUTO_TEST_CASE(a_refused_connection_is_told_in_the_diagnostics_not_on_stderr) {
    auto dir = std::filesystem::temp_directory_path() / "jobssh-vm-ssh-diagnostics-test";
    std::filesystem::path file;
    {
        jobssh::ssh_diagnostics diagnostics(dir);
        file = diagnostics.file();
        jobssh::config cfg;
        auto argv =
            jobssh::vm_ssh_argv(cfg, vm_on(free_port()), false, "true", {{}, diagnostics.file()});
        argv.insert(argv.begin(), "ssh");
        auto ssh = jobssh::fixtures::sandbox::run(argv, std::nullopt, std::chrono::seconds(30));
        BOOST_TEST(ssh.exit_code == 255);
        BOOST_TEST(ssh.err == "");
        BOOST_TEST(diagnostics.text().find("Connection refused") != std::string::npos);
        BOOST_TEST((jobssh::vm_ssh_failure(ssh.exit_code, diagnostics.text()) ==
                    jobssh::failure::vm_unreachable));
    }
    BOOST_TEST(!std::filesystem::exists(file));
    std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(a_session_riding_the_job_s_master_names_its_socket_and_never_becomes_one) {
    jobssh::config cfg;
    auto argv = jobssh::vm_ssh_argv(cfg, vm_on(2222), false, "true",
                                    {std::nullopt, std::nullopt, std::filesystem::path("/s/mux")});
    BOOST_TEST(has(argv, "ControlMaster=no"));
    BOOST_TEST(has(argv, "ControlPath=/s/mux"));
    BOOST_TEST(argv.back() == "true");
    // Without a master, the command line is the one before multiplexing.
    auto alone = jobssh::vm_ssh_argv(cfg, vm_on(2222), false, "true", {});
    BOOST_TEST(std::none_of(alone.begin(), alone.end(),
                            [](const std::string& a) { return a.starts_with("Control"); }));
}

BOOST_AUTO_TEST_CASE(
    the_master_connects_as_the_session_would_pinned_keys_included_with_no_command) {
    jobssh::config cfg;
    cfg.vm_identity = "/etc/jobssh/vm_key";
    auto options =
        jobssh::vm_master_options(cfg, vm_on(2222), {std::filesystem::path("/run/kh"), {}});
    BOOST_TEST(has(options, "2222"));
    BOOST_TEST(has(options, "/etc/jobssh/vm_key"));
    BOOST_TEST(has(options, "UserKnownHostsFile=/run/kh"));
    BOOST_TEST(has(options, "StrictHostKeyChecking=yes"));
    BOOST_TEST(has(options, "BatchMode=yes"));
    BOOST_TEST(has(options, "SendEnv=LANG LC_*")); // a riding session's locale passes it too
    BOOST_TEST(options[options.size() - 2] == "--");
    BOOST_TEST(options.back() == "build@127.0.0.1");
    BOOST_TEST(!has(options, "-t"));
    BOOST_TEST(!has(options, "bash"));
}

BOOST_AUTO_TEST_CASE(a_control_path_too_long_for_a_unix_socket_is_refused) {
    // sun_path holds 108 bytes with its NUL, and OpenSSH adds 17 while it makes the socket.
    std::string dir = "/" + std::string(85, 'd');
    BOOST_TEST(jobssh::control_path(dir, "mux").has_value());        // 90 bytes, + 17 + NUL: 108
    BOOST_TEST(!jobssh::control_path(dir + "d", "mux").has_value()); // 91: one too many
    BOOST_TEST(jobssh::is_master_file("mux", "mux"));
    BOOST_TEST(jobssh::is_master_file("mux.pid", "mux"));
    BOOST_TEST(jobssh::is_master_file("mux.lock", "mux"));
    BOOST_TEST(jobssh::is_master_file("mux.Ab3xYz0123456789", "mux"));
    BOOST_TEST(!jobssh::is_master_file("muxer", "mux"));
    BOOST_TEST(!jobssh::is_master_file("lock", "mux"));
}

BOOST_AUTO_TEST_CASE(no_master_answers_on_a_missing_socket_nor_on_one_that_never_says_hello) {
    jobssh::testing::scratch_dir dir;
    auto socket = dir.path() / "mux";
    BOOST_TEST(!jobssh::master_answers(socket, 500ms).has_value());
    // A listener that accepts and says nothing, as a stopped master's socket does.
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strcpy(address.sun_path, socket.c_str());
    BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    BOOST_REQUIRE(::listen(fd, 4) == 0);
    auto start = std::chrono::steady_clock::now();
    BOOST_TEST(!jobssh::master_answers(socket, 500ms).has_value());
    BOOST_TEST((std::chrono::steady_clock::now() - start < 5s)); // bounded, not hung
    ::close(fd);
    // A socket nobody listens on any more (a killed master's): refused at once.
    BOOST_TEST(!jobssh::master_answers(socket, 500ms).has_value());
}

BOOST_AUTO_TEST_CASE(the_ssh_riding_a_master_that_went_away_is_heard_apart_from_the_vm) {
    std::string about_master;
    auto kept = jobssh::without_master_complaints(
        "Control socket connect(/s/mux): Connection refused\nPermission denied (publickey).\n",
        about_master);
    BOOST_TEST(kept == "Permission denied (publickey).\n");
    BOOST_TEST(about_master == "Control socket connect(/s/mux): Connection refused\n");
}
