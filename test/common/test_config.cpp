#define BOOST_TEST_MODULE config
#include "scratch_dir.hpp"

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <jobssh/common/config.hpp>

using namespace std::chrono_literals;
using jobssh::config_error;
using jobssh::load_config;
using jobssh::testing::scratch_dir;

namespace {

// The message of the config_error that loading `content` throws ("" when none is thrown).
std::string load_error(const scratch_dir& dir, std::string_view content) {
    auto file = dir.write("config.ini", content);
    try {
        load_config(file);
    } catch (const config_error& error) {
        return error.what();
    }
    return "";
}

// The environment variable set for one test and restored after it.
struct environment_variable {
    environment_variable(const char* name, const std::string& value)
        : name_(name) {
        if (const char* old = std::getenv(name))
            old_ = old;
        ::setenv(name, value.c_str(), 1);
    }
    ~environment_variable() {
        if (old_)
            ::setenv(name_, old_->c_str(), 1);
        else
            ::unsetenv(name_);
    }
    const char* name_;
    std::optional<std::string> old_;
};

} // namespace

BOOST_AUTO_TEST_CASE(every_key_of_a_sourcehut_config_is_read_from_its_section) {
    scratch_dir dir;
    auto file = dir.write("config.ini", R"(# A builds.sr.ht deployment's config
[sr.ht]
site-name = sourcehut
owner-name = Ada Admin
owner-email = ada@example.org

[builds.sr.ht]
origin = https://builds.example.org/

[builds.sr.ht::worker]
; the worker listens on every address
bind-address = 0.0.0.0:8123
buildlogs = /srv/logs

[meta.sr.ht]
origin = https://meta.example.org
internal-origin = http://meta.internal:5000

[jobssh]
user = ci
shell = /opt/jobssh/bin/jobssh-shell
http-timeout = 2.5
poll-interval = 0.5
authenticate = shell
keys-timeout = 0.75
vm-identity = /var/lib/jobssh/id_ed25519
state-dir = /run/jobssh
)");
    auto cfg = load_config(file);
    BOOST_TEST(cfg.file == file);
    BOOST_TEST(cfg.owner_name == "Ada Admin");
    BOOST_TEST(cfg.owner_email == "ada@example.org");
    BOOST_TEST(cfg.builds_origin == "https://builds.example.org");
    BOOST_TEST(cfg.runner_host == "127.0.0.1");
    BOOST_TEST(cfg.runner_port == 8123);
    BOOST_TEST(cfg.buildlogs == "/srv/logs");
    BOOST_TEST(cfg.meta_origin == "https://meta.example.org");
    BOOST_TEST(cfg.meta_api_origin == "http://meta.internal:5000");
    BOOST_TEST(cfg.login_user == "ci");
    BOOST_TEST(cfg.shell == "/opt/jobssh/bin/jobssh-shell");
    BOOST_TEST(cfg.http_timeout.count() == 2500);
    BOOST_TEST(cfg.poll_interval.count() == 500);
    BOOST_TEST((cfg.authenticate == jobssh::authenticate_mode::shell));
    BOOST_TEST(cfg.keys_timeout.count() == 750);
    BOOST_TEST(cfg.vm_identity == "/var/lib/jobssh/id_ed25519");
    BOOST_TEST(cfg.state_dir == "/run/jobssh");
}

BOOST_AUTO_TEST_CASE(keys_a_file_does_not_set_keep_their_defaults) {
    scratch_dir dir;
    auto cfg = load_config(dir.write("config.ini", "[sr.ht]\nowner-name = Bo\n"));
    const jobssh::config defaults;
    BOOST_TEST(cfg.owner_name == "Bo");
    BOOST_TEST(cfg.owner_email == defaults.owner_email);
    BOOST_TEST(cfg.runner_host == "127.0.0.1");
    BOOST_TEST(cfg.runner_port == 8080);
    BOOST_TEST(cfg.buildlogs == defaults.buildlogs);
    BOOST_TEST(cfg.login_user == "builds");
    BOOST_TEST(cfg.shell.empty());
    BOOST_TEST(cfg.http_timeout.count() == defaults.http_timeout.count());
    BOOST_TEST(cfg.state_dir == defaults.state_dir);
    // docs/design.md: jobssh-keys asks meta by default, for at most 2 s.
    BOOST_TEST((cfg.authenticate == jobssh::authenticate_mode::keys));
    BOOST_TEST(cfg.keys_timeout.count() == 2000);
    // docs/design.md, "Fewer handshakes": sessions ride a master connection unless told not to.
    BOOST_TEST(cfg.multiplex);
}

BOOST_AUTO_TEST_CASE(multiplex_is_yes_or_no_and_anything_else_names_the_line) {
    scratch_dir dir;
    BOOST_TEST(!load_config(dir.write("config.ini", "[jobssh]\nmultiplex = no\n")).multiplex);
    BOOST_TEST(load_config(dir.write("config.ini", "[jobssh]\nmultiplex = yes\n")).multiplex);
    auto error = load_error(dir, "[jobssh]\nmultiplex = sometimes\n");
    BOOST_TEST(error.find(":2: [jobssh] multiplex = \"sometimes\"") != std::string::npos, error);
}

BOOST_AUTO_TEST_CASE(authenticate_is_keys_or_shell_and_anything_else_names_the_line) {
    scratch_dir dir;
    const auto file = (dir.path() / "config.ini").string();
    for (std::string word : {"Keys", "yes", "both", "keys shell"}) {
        auto error = load_error(dir, "[jobssh]\nauthenticate = " + word + "\n");
        BOOST_TEST(error == file + ":2: [jobssh] authenticate = \"" + word +
                                "\": expected keys or shell",
                   word);
    }
}

BOOST_AUTO_TEST_CASE(meta_api_calls_use_the_public_origin_when_no_internal_origin_is_set) {
    scratch_dir dir;
    auto cfg = load_config(dir.write("config.ini", "[meta.sr.ht]\norigin = https://meta.x.org/\n"));
    BOOST_TEST(cfg.meta_origin == "https://meta.x.org");
    BOOST_TEST(cfg.meta_api_origin == "https://meta.x.org");
}

BOOST_AUTO_TEST_CASE(dotted_section_names_are_not_confused_with_each_other) {
    scratch_dir dir;
    // "builds.sr.ht" and "builds.sr.ht::worker" both hold "origin"-like keys; a dotted-path
    // lookup would read [builds] / [sr] instead.
    auto cfg = load_config(dir.write("config.ini", "[builds]\norigin = wrong\n"
                                                   "[builds.sr.ht::worker]\nbuildlogs = /w\n"
                                                   "[builds.sr.ht]\norigin = http://right\n"));
    BOOST_TEST(cfg.builds_origin == "http://right");
    BOOST_TEST(cfg.buildlogs == "/w");
}

BOOST_AUTO_TEST_CASE(bind_address_forms_of_the_worker_are_understood) {
    scratch_dir dir;
    auto worker = [&](std::string address) {
        return load_config(
            dir.write("config.ini", "[builds.sr.ht::worker]\nbind-address = " + address + "\n"));
    };
    BOOST_TEST(worker(":9000").runner_host == "127.0.0.1");
    BOOST_TEST(worker(":9000").runner_port == 9000);
    BOOST_TEST(worker("10.1.2.3:80").runner_host == "10.1.2.3");
    BOOST_TEST(worker("[::1]:8080").runner_host == "::1");
    BOOST_TEST(worker("[::]:8080").runner_host == "::1");
    BOOST_TEST(worker("localhost:65535").runner_port == 65535);
}

BOOST_AUTO_TEST_CASE(a_malformed_file_is_an_error_naming_the_file_and_the_line) {
    scratch_dir dir;
    const auto file = (dir.path() / "config.ini").string();
    BOOST_TEST(load_error(dir, "[sr.ht]\nowner-name = A\nthis line has no equals sign\n") ==
               file + ":3: '=' character not found in line");
    BOOST_TEST(load_error(dir, "[sr.ht\n").starts_with(file + ":1: "));
    BOOST_TEST(load_error(dir, "[jobssh]\nuser = a\nuser = b\n").starts_with(file + ":3: "));
    BOOST_TEST(
        load_error(dir, "[jobssh]\nuser = a\n[jobssh]\nuser = b\n").starts_with(file + ":3: "));
}

BOOST_AUTO_TEST_CASE(a_bad_port_is_an_error_naming_the_file_line_and_value) {
    scratch_dir dir;
    const auto file = (dir.path() / "config.ini").string();
    for (std::string port : {"0", "65536", "99999999999999999999", "-1", "0x10", "http", ""}) {
        auto error = load_error(dir, "[sr.ht]\n[builds.sr.ht::worker]\nbuildlogs = /l\n"
                                     "bind-address = 0.0.0.0:" +
                                         port + "\n");
        BOOST_TEST(error.starts_with(
                       file + ":4: [builds.sr.ht::worker] bind-address = \"0.0.0.0:" + port + "\""),
                   "port \"" << port << "\": " << error);
    }
    BOOST_TEST(load_error(dir, "[builds.sr.ht::worker]\nbind-address = localhost\n")
                   .starts_with(file + ":2: "));
}

BOOST_AUTO_TEST_CASE(a_bad_timeout_is_an_error_naming_the_file_line_and_value) {
    scratch_dir dir;
    const auto file = (dir.path() / "config.ini").string();
    for (std::string seconds :
         {"-1", "0", "0x10", "1e3", "five", "nan", "inf", "5s", "1,5", "99999999999999999999"}) {
        for (std::string key : {"http-timeout", "poll-interval", "keys-timeout"}) {
            auto error = load_error(dir, "[jobssh]\nuser = b\n  " + key + " = " + seconds + "\n");
            BOOST_TEST(error.starts_with(file + ":3: [jobssh] " + key + " = \"" + seconds + "\""),
                       key << " \"" << seconds << "\": " << error);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_syslog_socket_is_an_absolute_path_short_enough_for_a_socket_address) {
    scratch_dir dir;
    const auto file = (dir.path() / "config.ini").string();
    BOOST_TEST(load_config(dir.write("config.ini", "[jobssh]\nsyslog-socket = /run/x/log\n"))
                   .syslog_socket == "/run/x/log");
    BOOST_TEST(load_config(dir.write("config.ini", "")).syslog_socket.empty());
    for (std::string path : {std::string("run/log"), "/" + std::string(107, 'x')}) {
        auto error = load_error(dir, "[jobssh]\nsyslog-socket = " + path + "\n");
        BOOST_TEST(error.starts_with(file + ":2: [jobssh] syslog-socket = \"" + path + "\""),
                   error);
    }
}

BOOST_AUTO_TEST_CASE(an_empty_value_keeps_the_default) {
    scratch_dir dir;
    auto cfg = load_config(dir.write("config.ini", "[jobssh]\nhttp-timeout =\nuser =\n"));
    BOOST_TEST(cfg.http_timeout.count() == 5000);
    BOOST_TEST(cfg.login_user == "builds");
}

BOOST_AUTO_TEST_CASE(an_empty_file_gives_the_defaults) {
    scratch_dir dir;
    auto cfg = load_config(dir.write("config.ini", ""));
    BOOST_TEST(cfg.login_user == "builds");
    BOOST_TEST(cfg.runner_port == 8080);
}

BOOST_AUTO_TEST_CASE(an_unreadable_file_is_an_error_naming_it) {
    scratch_dir dir;
    auto missing = dir.path() / "missing.ini";
    BOOST_CHECK_EXCEPTION(load_config(missing), config_error, [&](const config_error& error) {
        return std::string(error.what()).starts_with(missing.string() + ": ");
    });
}

BOOST_AUTO_TEST_CASE(the_config_option_wins_over_the_environment) {
    scratch_dir dir;
    auto from_option = dir.write("option.ini", "[jobssh]\nuser = option\n");
    auto from_environment = dir.write("environment.ini", "[jobssh]\nuser = environment\n");
    environment_variable variable("JOBSSH_CONFIG", from_environment.string());
    BOOST_TEST(jobssh::find_config(from_option).login_user == "option");
    BOOST_TEST(jobssh::find_config(std::nullopt).login_user == "environment");
    BOOST_TEST(jobssh::find_config(std::nullopt).file == from_environment);
}

BOOST_AUTO_TEST_CASE(a_named_config_file_that_does_not_exist_is_an_error) {
    scratch_dir dir;
    auto missing = dir.path() / "nowhere.ini";
    BOOST_CHECK_EXCEPTION(
        jobssh::find_config(missing), config_error, [&](const config_error& error) {
            return std::string(error.what()) == missing.string() + ": no such file";
        });
    environment_variable variable("JOBSSH_CONFIG", missing.string());
    BOOST_CHECK_THROW(jobssh::find_config(std::nullopt), config_error);
}
