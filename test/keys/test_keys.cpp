#define BOOST_TEST_MODULE keys
#include "sandbox.hpp"
#include "scratch_dir.hpp"
#include "ssh_client.hpp"
#include "wait_status.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <jobssh/common/config.hpp>
#include <memory>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <pwd.h>
#include <shadow.h>
#include <signal.h>
#include <spawn.h>
#include <sstream>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

using namespace std::chrono_literals;
using jobssh::testing::scratch_dir;
namespace fs = std::filesystem;

namespace {

const std::string keys_program = JOBSSH_KEYS_PROGRAM;
const std::string ed25519 = "AAAAC3NzaC1lZDI1NTE5AAAAIGgrUHHEdqhBhO9bR5fJkxx5PPGTYPl1vE1Cbrjs2Kv5";

// A process we started, its stdout and stderr on pipes. Every wait on it is bounded; the
// destructor kills what is still running.
class child {
public:
    child(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {}) {
        int out[2], err[2];
        if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
            throw std::runtime_error("pipe2 failed");
        posix_spawn_file_actions_t actions;
        ::posix_spawn_file_actions_init(&actions);
        ::posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        ::posix_spawn_file_actions_adddup2(&actions, out[1], 1);
        ::posix_spawn_file_actions_adddup2(&actions, err[1], 2);

        // Our environment without a config file of its own, plus what the test adds.
        std::vector<std::string> env;
        for (char** entry = environ; *entry; ++entry)
            if (!std::string_view(*entry).starts_with("JOBSSH_CONFIG="))
                env.emplace_back(*entry);
        env.insert(env.end(), extra_env.begin(), extra_env.end());
        auto c_strings = [](std::vector<std::string>& strings) {
            std::vector<char*> pointers;
            for (auto& s : strings)
                pointers.push_back(s.data());
            pointers.push_back(nullptr);
            return pointers;
        };
        auto args = argv;
        auto c_argv = c_strings(args);
        auto c_env = c_strings(env);
        int error = ::posix_spawn(&pid_, c_argv[0], &actions, nullptr, c_argv.data(), c_env.data());
        ::posix_spawn_file_actions_destroy(&actions);
        ::close(out[1]);
        ::close(err[1]);
        out_ = out[0];
        err_ = err[0];
        if (error != 0)
            throw std::runtime_error("cannot start " + argv[0]);
        pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
        if (pidfd_ < 0)
            throw std::runtime_error("pidfd_open failed");
    }
    ~child() {
        if (status_ < 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        for (int fd : {out_, err_, pidfd_})
            if (fd >= 0)
                ::close(fd);
    }
    child(const child&) = delete;
    child& operator=(const child&) = delete;

    // Reads stdout and stderr until `done` says so, both end, or the bound passes.
    // Returns whether `done` was satisfied (or, without one, whether the output ended).
    template <class Predicate>
    bool read_until(std::chrono::steady_clock::time_point deadline, Predicate done) {
        while (!done()) {
            if (out_ < 0 && err_ < 0)
                return false;
            pollfd fds[2] = {{out_, POLLIN, 0}, {err_, POLLIN, 0}};
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left <= 0ms || ::poll(fds, 2, static_cast<int>(left.count())) == 0)
                return false;
            drain(fds[0], out_, out);
            drain(fds[1], err_, err);
        }
        return true;
    }

    // Reads everything the child writes and waits for it to exit; -1 on timeout.
    int finish(std::chrono::seconds timeout) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        read_until(deadline, [this] { return out_ < 0 && err_ < 0; });
        pollfd exited{pidfd_, POLLIN, 0};
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (::poll(&exited, 1, static_cast<int>(std::max(left, 0ms).count())) != 1)
            return -1;
        int status = 0;
        ::waitpid(pid_, &status, 0);
        status_ = jobssh::fixtures::exit_code_of(status);
        return status_;
    }

    // SIGTERM, then SIGKILL when it has not gone within the grace period.
    void stop(std::chrono::seconds grace) {
        if (status_ >= 0)
            return;
        ::kill(pid_, SIGTERM);
        pollfd exited{pidfd_, POLLIN, 0};
        if (::poll(&exited, 1, static_cast<int>(grace.count() * 1000)) != 1)
            ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        status_ = 0;
    }

    std::string out, err;

private:
    static void drain(const pollfd& polled, int& fd, std::string& into) {
        if (fd < 0 || polled.revents == 0)
            return;
        char buffer[4096];
        auto n = ::read(fd, buffer, sizeof buffer);
        if (n > 0) {
            into.append(buffer, static_cast<std::size_t>(n));
        } else {
            ::close(fd);
            fd = -1;
        }
    }

    pid_t pid_ = -1;
    int out_ = -1, err_ = -1, pidfd_ = -1;
    int status_ = -1;
};

struct outcome {
    int status;
    std::string out, err;
};

outcome run(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {}) {
    child process(argv, extra_env);
    int status = process.finish(30s);
    return {status, process.out, process.err};
}

outcome run_keys(std::vector<std::string> args, const std::vector<std::string>& extra_env = {}) {
    args.insert(args.begin(), keys_program);
    return run(args, extra_env);
}

std::string read_file(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream content;
    content << in.rdbuf();
    return content.str();
}

} // namespace

BOOST_AUTO_TEST_CASE(the_login_user_gets_a_line_forcing_jobssh_shell_with_the_key) {
    scratch_dir dir;
    auto config = dir.write("config.ini", "[jobssh]\nuser = builds\nshell = /usr/bin/jobssh-shell\n"
                                          "authenticate = shell\n");
    auto result =
        run_keys({"--config", config.string(), "builds", "/home/builds", "ssh-ed25519", ed25519});
    BOOST_TEST(result.status == 0);
    BOOST_TEST(result.out == "restrict,pty,command=\"/usr/bin/jobssh-shell --config " +
                                 config.string() + " '" + ed25519 + "'\" ssh-ed25519 " + ed25519 +
                                 " somebody\n");
    BOOST_TEST(result.err == "");
}

BOOST_AUTO_TEST_CASE(the_default_shell_is_the_jobssh_shell_beside_jobssh_keys) {
    scratch_dir dir;
    auto config = dir.write("config.ini", "[jobssh]\nuser = ci\nauthenticate = shell\n");
    auto result =
        run_keys({"ci", "/home/ci", "ssh-ed25519", ed25519}, {"JOBSSH_CONFIG=" + config.string()});
    BOOST_TEST(result.status == 0);
    // sshd passes the environment on to neither program: only --config travels.
    BOOST_TEST(result.out == "restrict,pty,command=\"" +
                                 (fs::path(keys_program).parent_path() / "jobssh-shell").string() +
                                 " '" + ed25519 + "'\" ssh-ed25519 " + ed25519 + " somebody\n");
}

BOOST_AUTO_TEST_CASE(a_relative_config_path_is_made_absolute_for_the_forced_command) {
    scratch_dir dir;
    dir.write("config.ini", "[jobssh]\nshell = /bin/jobssh-shell\nauthenticate = shell\n");
    auto result = run({"/bin/sh", "-c",
                       "cd \"$1\" && exec \"$2\" --config config.ini builds /x ssh-ed25519 AAAA",
                       "sh", dir.path().string(), keys_program});
    BOOST_TEST(result.status == 0);
    BOOST_TEST(result.out.find("--config " + (dir.path() / "config.ini").string() + " 'AAAA'") !=
                   std::string::npos,
               result.out);
}

BOOST_AUTO_TEST_CASE(other_users_get_their_own_authorized_keys_byte_for_byte) {
    scratch_dir dir;
    auto config = dir.write("config.ini", "[jobssh]\nuser = builds\n");
    const std::string own = "ssh-ed25519 AAAAmine admin@laptop\n# comment \xc3\xa9\r\nno newline";
    dir.write("home/admin/.ssh/authorized_keys", own);
    auto result = run_keys({"--config", config.string(), "admin",
                            (dir.path() / "home/admin").string(), "ssh-ed25519", ed25519});
    BOOST_TEST(result.status == 0);
    BOOST_TEST(result.out == own);
}

BOOST_AUTO_TEST_CASE(other_users_with_an_empty_authorized_keys_get_nothing_and_success) {
    scratch_dir dir;
    auto config = dir.write("config.ini", "[jobssh]\nuser = builds\n");
    dir.write("home/admin/.ssh/authorized_keys", "");
    auto result = run_keys({"--config", config.string(), "admin",
                            (dir.path() / "home/admin").string(), "ssh-ed25519", ed25519});
    BOOST_TEST(result.status == 0);
    BOOST_TEST(result.out == "");
}

BOOST_AUTO_TEST_CASE(other_users_without_authorized_keys_get_nothing_and_success) {
    scratch_dir dir;
    auto config = dir.write("config.ini", "[jobssh]\nuser = builds\n");
    auto result = run_keys({"--config", config.string(), "admin", (dir.path() / "nohome").string(),
                            "ssh-ed25519", ed25519});
    BOOST_TEST(result.status == 0);
    BOOST_TEST(result.out == "");
}

BOOST_AUTO_TEST_CASE(malformed_keys_and_key_types_print_nothing_and_fail) {
    scratch_dir dir;
    auto config = dir.write("config.ini", "[jobssh]\nuser = builds\n");
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"ssh-ed25519", ed25519 + "'"},
        {"ssh-ed25519", "AAAA' ; touch /tmp/owned ; '"},
        {"ssh-ed25519", ed25519 + " extra"},
        {"ssh-ed25519", ed25519 + "\nrestrict ssh-ed25519 AAAA"},
        {"ssh-ed25519", "not*base64"},
        {"ssh-ed25519", ""},
        {"ssh-ed25519", std::string(16 * 1024 + 4, 'A')},
        {"ssh-ed25519\" x", ed25519},
        {"SSH-ED25519", ed25519},
        {"ssh ed25519", ed25519},
        {"", ed25519},
    };
    for (const auto& [type, key] : bad) {
        auto result = run_keys({"--config", config.string(), "builds", "/home/builds", type, key});
        BOOST_TEST(result.status == 65, type << " " << key.substr(0, 40));
        BOOST_TEST(result.out == "", type << " " << key.substr(0, 40));
        // The line that goes to the syslog is shown on stderr too.
        BOOST_TEST(result.err.starts_with("jobssh-keys: user=builds "), result.err);
        BOOST_TEST(result.err.find("outcome=malformed_key") != std::string::npos, result.err);
    }
}

BOOST_AUTO_TEST_CASE(a_wrong_argument_count_prints_usage_and_exits_64) {
    for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
             {},
             {"builds"},
             {"builds", "/home/builds", "ssh-ed25519"},
             {"builds", "/home/builds", "ssh-ed25519", ed25519, "x"},
             {"--config"},
             {"--config", "/etc/x.ini"},
             {"--config", "/x", "builds", "/home", "ssh-ed25519"},
             {"--config=", "builds", "/h", "ssh-ed25519", ed25519}}) {
        auto result = run_keys(args);
        BOOST_TEST(result.status == 64, args.size() << " arguments");
        BOOST_TEST(result.out == "");
        BOOST_TEST(result.err.starts_with(
            "Usage: jobssh-keys [--config FILE] USER HOME KEYTYPE B64KEY\n"));
    }
}

BOOST_AUTO_TEST_CASE(version_prints_the_version) {
    auto result = run_keys({"--version"});
    BOOST_TEST(result.status == 0);
    BOOST_TEST(result.out == "jobssh-keys " JOBSSH_VERSION "\n");
}

BOOST_AUTO_TEST_CASE(a_broken_config_prints_nothing_and_exits_78) {
    scratch_dir dir;
    auto config = dir.write("config.ini", "[jobssh]\nuser\n");
    auto result =
        run_keys({"--config", config.string(), "builds", "/home/builds", "ssh-ed25519", ed25519});
    BOOST_TEST(result.status == 78);
    BOOST_TEST(result.out == "");
    BOOST_TEST(result.err.find(config.string() + ":2:") != std::string::npos, result.err);
    auto missing = run_keys({"--config", (dir.path() / "none.ini").string(), "builds",
                             "/home/builds", "ssh-ed25519", ed25519});
    BOOST_TEST(missing.status == 78);
    BOOST_TEST(missing.out == "");
}

namespace {

// A port on 127.0.0.1 nobody listened on a moment ago: sshd cannot report the port it got.
int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
        throw std::runtime_error("no free port");
    ::close(fd);
    return ntohs(address.sin_port);
}

// sshd without PAM refuses a locked account ("!" password). Root on a fresh machine may
// be one: then the test logs in as a user of its own, unlocked with a "*" password.
std::string login_account() {
    passwd* self = ::getpwuid(::geteuid());
    BOOST_TEST_REQUIRE(self != nullptr);
    std::string name = self->pw_name;
    spwd* shadow = ::geteuid() == 0 ? ::getspnam(name.c_str()) : nullptr;
    if (!shadow || shadow->sp_pwdp[0] != '!')
        return name;
    const std::string own = "jobssh-keytest";
    if (!::getpwnam(own.c_str()))
        run({"/usr/sbin/useradd", "--no-create-home", "--home-dir", "/nonexistent", "--shell",
             "/bin/sh", own});
    BOOST_TEST_REQUIRE(run({"/usr/sbin/usermod", "-p", "*", own}).status == 0);
    return own;
}

struct key_pair {
    fs::path private_key;
    std::string type, b64;
};

key_pair make_key(const fs::path& file) {
    auto made = run({"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f",
                     file.string()});
    BOOST_TEST_REQUIRE(made.status == 0, made.err);
    std::istringstream pub(read_file(file.string() + ".pub"));
    key_pair pair{file, "", ""};
    pub >> pair.type >> pair.b64;
    return pair;
}

// OpenSSH's sshd on a loopback port, trusting exactly the lines in `authorized_keys`.
class test_sshd {
public:
    test_sshd(const fs::path& dir, const fs::path& authorized_keys) {
        make_key(dir / "host_ed25519");
        if (::geteuid() == 0)
            fs::create_directories("/run/sshd"); // sshd's privilege separation directory
        // Another process may take the free port before sshd binds it: try again then.
        for (int attempt = 0; attempt < 5 && !process_; ++attempt) {
            port_ = free_port();
            auto config = dir / "sshd_config";
            std::ofstream(config) << "ListenAddress 127.0.0.1:" << port_ << "\n"
                                  << "HostKey " << (dir / "host_ed25519").string() << "\n"
                                  << "PidFile none\n"
                                  << "UsePAM no\n"
                                  << "StrictModes no\n"
                                  << "PermitRootLogin prohibit-password\n"
                                  << "PubkeyAuthentication yes\n"
                                  << "PasswordAuthentication no\n"
                                  << "KbdInteractiveAuthentication no\n"
                                  << "AuthorizedKeysFile " << authorized_keys.string() << "\n"
                                  << "AuthorizedKeysCommand none\n";
            auto started = std::make_unique<child>(
                std::vector<std::string>{"/usr/sbin/sshd", "-D", "-e", "-f", config.string()});
            auto& log = started->err;
            if (started->read_until(std::chrono::steady_clock::now() + 20s, [&] {
                    return log.find("Server listening on 127.0.0.1") != std::string::npos;
                }))
                process_ = std::move(started);
            else
                BOOST_TEST_MESSAGE("sshd did not start: " << log);
        }
        BOOST_TEST_REQUIRE(static_cast<bool>(process_), "sshd never listened");
    }
    ~test_sshd() {
        if (process_)
            process_->stop(5s);
    }
    int port() const { return port_; }

private:
    int port_ = 0;
    std::unique_ptr<child> process_;
};

std::vector<std::string> ssh_argv(const key_pair& key, int port, const std::string& login,
                                  const std::string& remote_command) {
    auto argv =
        jobssh::fixtures::ssh_client_argv(key.private_key, static_cast<std::uint16_t>(port));
    argv.front() = "/usr/bin/ssh"; // posix_spawn does not search PATH
    argv.insert(argv.end(), {login + "@127.0.0.1", remote_command});
    return argv;
}

} // namespace

BOOST_AUTO_TEST_CASE(openssh_accepts_the_line_and_runs_the_forced_command_with_the_key) {
    scratch_dir dir;
    // The login user reads these files; paths with spaces and quotes prove the quoting.
    fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_read |
                                    fs::perms::group_exec | fs::perms::others_read |
                                    fs::perms::others_exec);
    const std::string login = login_account();
    auto shell = dir.write("my shell's \"dir\"/show-args",
                           "#!/bin/sh\n"
                           "for arg in \"$@\"; do printf 'arg=%s\\n' \"$arg\"; done\n"
                           "printf 'command=%s\\n' \"$SSH_ORIGINAL_COMMAND\"\n");
    fs::permissions(shell, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                               fs::perms::others_read | fs::perms::others_exec);
    auto config =
        dir.write("conf dir/it's.ini", "[jobssh]\nuser = " + login + "\nshell = " + shell.string() +
                                           "\nauthenticate = shell\n");
    auto key = make_key(dir.path() / "user_ed25519");
    auto stranger = make_key(dir.path() / "stranger_ed25519");

    auto printed =
        run_keys({"--config", config.string(), login, "/home/" + login, key.type, key.b64});
    BOOST_TEST_REQUIRE(printed.status == 0, printed.err);
    auto authorized_keys = dir.write("authorized_keys", printed.out);
    test_sshd sshd(dir.path(), authorized_keys);

    auto session = run(ssh_argv(key, sshd.port(), login, "connect 4211 -- echo 'a b'"));
    BOOST_TEST(session.status == 0, session.err);
    BOOST_TEST(session.out == "arg=--config\narg=" + config.string() + "\narg=" + key.b64 +
                                  "\ncommand=connect 4211 -- echo 'a b'\n");

    // sshd really matches the key: one jobssh-keys did not print for gets no session.
    auto refused = run(ssh_argv(stranger, sshd.port(), login, "tail 1"));
    BOOST_TEST(refused.status == 255);
    BOOST_TEST(refused.out == "");
}

// `authenticate = keys`, the default: jobssh-keys asks the fixtures' fake meta.
namespace {

struct meta_world {
    scratch_dir scratch;
    std::unique_ptr<jobssh::fixtures::sandbox> box;
    meta_world() {
        scratch.write("users.json",
                      R"({"users": [{"name": "alice", "id": 1}, {"name": "bob", "id": 2}]})");
        scratch.write("jobs.json", R"({"jobs": []})");
        jobssh::fixtures::sandbox_options options;
        options.jobs_file = scratch.path() / "jobs.json";
        options.users_file = scratch.path() / "users.json";
        options.front_sshd = false;
        options.vms = false;
        options.http_timeout = 1000ms;
        options.keys_timeout = 500ms;
        box = std::make_unique<jobssh::fixtures::sandbox>(options);
    }
};

meta_world& meta() {
    static meta_world world;
    return world;
}

// jobssh-keys for the login user and `user`'s key, as sshd runs it with the sandbox's config.
outcome keys_for(std::string_view user) {
    auto& box = *meta().box;
    return run_keys({"--config", box.config_file().string(), box.login_user(), "/nonexistent",
                     "ssh-ed25519", box.public_key_b64(user)});
}

// The line for `user`'s key, with `--owner NAME` when given one.
std::string line_for(std::string_view user, std::optional<std::string> owner) {
    auto& box = *meta().box;
    const auto key = box.public_key_b64(user);
    auto command = jobssh::load_config(box.config_file()).shell.string() + " --config " +
                   box.config_file().string();
    if (owner)
        command += " --owner " + *owner;
    return "restrict,pty,command=\"" + command + " '" + key + "'\" ssh-ed25519 " + key +
           " somebody\n";
}

std::size_t meta_requests_for(std::string_view user) {
    auto seen = meta().box->meta_requests();
    return static_cast<std::size_t>(std::count(
        seen.begin(), seen.end(), "GET /api/ssh-key/" + meta().box->public_key_b64(user)));
}

// One meta fault for the length of one run of jobssh-keys.
outcome keys_with_meta_fault(const std::string& fault, std::string_view user = "alice") {
    meta().box->meta_fault(fault);
    auto result = keys_for(user);
    meta().box->meta_fault("{}");
    return result;
}

std::string json_quoted(const std::string& text) {
    std::string quoted = "\"";
    for (unsigned char c : text) {
        if (c == '"' || c == '\\') {
            quoted += '\\';
            quoted += static_cast<char>(c);
        } else if (c < 0x20) {
            char escape[8];
            std::snprintf(escape, sizeof escape, "\\u%04x", c);
            quoted += escape;
        } else {
            quoted += static_cast<char>(c);
        }
    }
    return quoted + "\"";
}

// A 200 answer of meta for alice's key whose owner is named `name`, as a fault to inject.
std::string answer_owned_by(const std::string& name) {
    auto body = R"({"id": 1, "authorized": "2024-01-01T00:00:00+00:00", "comment": "x", )"
                R"("fingerprint": "SHA256:x", "key": "ssh-ed25519 AAAA x", "owner": )"
                R"({"canonical_name": )" +
                json_quoted("~" + name) + R"(, "name": )" + json_quoted(name) + "}}";
    return R"({"status": 200, "content_type": "application/json", "body": )" + json_quoted(body) +
           "}";
}

} // namespace

BOOST_AUTO_TEST_SUITE(authenticate_keys)

BOOST_AUTO_TEST_CASE(a_key_meta_knows_gets_the_forced_command_naming_its_owner) {
    const auto before = meta_requests_for("alice");
    auto result = keys_for("alice");
    BOOST_TEST(result.status == 0, result.err);
    BOOST_TEST(result.out == line_for("alice", "alice"));
    BOOST_TEST(result.err == "");
    BOOST_TEST(meta_requests_for("alice") == before + 1);
}

BOOST_AUTO_TEST_CASE(a_key_meta_does_not_know_gets_nothing_so_sshd_tries_the_next_key) {
    auto result = keys_for("stranger");
    BOOST_TEST(result.status == 0);
    BOOST_TEST(result.out == "");
}

BOOST_AUTO_TEST_CASE(meta_failing_lets_the_key_in_without_an_owner_for_jobssh_shell_to_ask_again) {
    for (std::string fault :
         {R"({"status": 500, "body": "oops"})", R"({"status": 503, "body": ""})",
          R"({"close": true})", R"({"status": 403, "body": "{}"})",
          R"({"status": 200, "content_type": "application/json", "body": "{\"id\": "})",
          R"({"status": 200, "content_type": "application/json", "body": "[]"})",
          R"({"status": 200, "content_type": "text/html", "body": "<html>"})",
          R"({"status": 200, "content_type": "application/json",)"
          R"( "body": "{\"id\": 1, \"owner\": {\"canonical_name\": \"~alice\"}}"})"}) {
        auto result = keys_with_meta_fault(fault);
        BOOST_TEST(result.status == 0, fault);
        BOOST_TEST(result.out == line_for("alice", std::nullopt), fault);
        // sshd's log (and the syslog) say why.
        BOOST_TEST(result.err.find("outcome=meta_unsure") != std::string::npos, result.err);
    }
}

BOOST_AUTO_TEST_CASE(meta_slower_than_keys_timeout_lets_the_key_in_without_an_owner) {
    meta().box->meta_fault(R"({"delay_ms": 60000})");
    child keys({keys_program, "--config", meta().box->config_file().string(),
                meta().box->login_user(), "/nonexistent", "ssh-ed25519",
                meta().box->public_key_b64("alice")});
    // Bounded by keys-timeout (0.5 s here), not by meta's minute.
    int status = keys.finish(20s);
    meta().box->meta_fault("{}");
    BOOST_TEST(status == 0);
    BOOST_TEST(keys.out == line_for("alice", std::nullopt));
    BOOST_TEST(keys.err.find("keys-timeout") != std::string::npos, keys.err);
}

BOOST_AUTO_TEST_CASE(an_owner_name_that_is_not_a_sr_ht_user_name_is_a_malformed_answer) {
    const std::string mark = (meta().scratch.path() / "owned").string();
    for (std::string name : std::vector<std::string>{
             "alice\"", "alice'", "al,ice", "alice bob", "alice\nrestrict ssh-ed25519 AAAA",
             "$(touch " + mark + ")", "`touch " + mark + "`", "alice;touch " + mark, "Alice",
             "-oProxyCommand=x", "--config", "", std::string(31, 'a'), "al\\ice",
             "\" ; touch " + mark + " ; \"",
             "ali\xc3\xa7"
             "e",
             "alice\r", "~alice"}) {
        auto result = keys_with_meta_fault(answer_owned_by(name));
        BOOST_TEST(result.status == 0, "[" << name << "]");
        // Exactly the line without --owner: nothing of the name, quoted or not.
        BOOST_TEST(result.out == line_for("alice", std::nullopt), "[" << name << "]");
    }
    BOOST_TEST(!fs::exists(mark));
    // The fault itself is not the cause: a plain name in the same answer is taken.
    auto plain = keys_with_meta_fault(answer_owned_by("a-b_c9"));
    BOOST_TEST(plain.out == line_for("alice", "a-b_c9"));
}

BOOST_AUTO_TEST_CASE(other_users_and_malformed_keys_make_no_call_to_meta) {
    auto& box = *meta().box;
    scratch_dir home;
    home.write(".ssh/authorized_keys", "ssh-ed25519 AAAAmine admin@laptop\n");
    const auto before = box.meta_requests().size();
    auto other = run_keys({"--config", box.config_file().string(), "admin", home.path().string(),
                           "ssh-ed25519", box.public_key_b64("alice")});
    BOOST_TEST(other.status == 0);
    BOOST_TEST(other.out == "ssh-ed25519 AAAAmine admin@laptop\n");
    auto malformed = run_keys({"--config", box.config_file().string(), box.login_user(),
                               "/nonexistent", "ssh-ed25519", box.public_key_b64("alice") + "'"});
    BOOST_TEST(malformed.status == 65);
    BOOST_TEST(malformed.out == "");
    BOOST_TEST(box.meta_requests().size() == before);
    // Its record reaches [jobssh] syslog-socket (the sandbox's collector), not stderr alone.
    const auto length = std::to_string(box.public_key_b64("alice").size() + 1);
    BOOST_TEST(box.wait_for_syslog("outcome=malformed_key key_length=" + length).has_value());
}

BOOST_AUTO_TEST_CASE(authenticate_shell_makes_no_call_to_meta_and_lets_every_key_in) {
    auto& box = *meta().box;
    scratch_dir dir;
    auto cfg = jobssh::load_config(box.config_file());
    auto config =
        dir.write("config.ini", "[meta.sr.ht]\ninternal-origin = " + cfg.meta_api_origin +
                                    "\n[jobssh]\nuser = " + box.login_user() +
                                    "\nshell = " + cfg.shell.string() + "\nauthenticate = shell\n");
    const auto before = box.meta_requests().size();
    for (std::string user : {"alice", "stranger"}) {
        auto result = run_keys({"--config", config.string(), box.login_user(), "/nonexistent",
                                "ssh-ed25519", box.public_key_b64(user)});
        BOOST_TEST(result.status == 0);
        BOOST_TEST(result.out.find(" --owner ") == std::string::npos, result.out);
        BOOST_TEST(result.out.find("'" + box.public_key_b64(user) + "'") != std::string::npos);
    }
    BOOST_TEST(box.meta_requests().size() == before);
}

// The sandbox's config with [jobssh::gateway] gateway-keys naming `file`.
fs::path config_with_gateway_keys(const scratch_dir& dir, const fs::path& file) {
    auto text = jobssh::fixtures::sandbox::run({"cat", meta().box->config_file().string()}).out;
    return dir.write("config.ini",
                     text + "\n[jobssh::gateway]\ngateway-keys = " + file.string() + "\n");
}

BOOST_AUTO_TEST_CASE(a_listed_gateway_key_gets_the_gateway_forced_command_without_asking_meta) {
    auto& box = *meta().box;
    scratch_dir dir;
    const auto gateway = box.public_key_b64("stranger"); // a key meta does not know
    auto config = config_with_gateway_keys(
        dir, dir.write("gateway_keys", "ssh-ed25519 " + gateway + " gateway@ci\n"));
    const auto before = box.meta_requests().size();
    auto result = run_keys(
        {"--config", config.string(), box.login_user(), "/nonexistent", "ssh-ed25519", gateway});
    BOOST_TEST(result.status == 0, result.err);
    BOOST_TEST(result.out.find(" --gateway '" + gateway + "'\" ssh-ed25519 ") != std::string::npos,
               result.out);
    BOOST_TEST(result.out.find(" --owner ") == std::string::npos, result.out);
    BOOST_TEST(box.meta_requests().size() == before);
    // Every other key still goes to meta.
    auto alice = run_keys({"--config", config.string(), box.login_user(), "/nonexistent",
                           "ssh-ed25519", box.public_key_b64("alice")});
    BOOST_TEST(alice.out.find(" --owner alice ") != std::string::npos, alice.out);
}

BOOST_AUTO_TEST_CASE(an_unreadable_gateway_keys_file_locks_out_only_the_gateways) {
    auto& box = *meta().box;
    scratch_dir dir;
    auto config = config_with_gateway_keys(dir, dir.path() / "missing");
    auto alice = run_keys({"--config", config.string(), box.login_user(), "/nonexistent",
                           "ssh-ed25519", box.public_key_b64("alice")});
    BOOST_TEST(alice.status == 0);
    BOOST_TEST(alice.out.find(" --owner alice ") != std::string::npos, alice.out);
    BOOST_TEST(alice.err.find("gateway keys") != std::string::npos, alice.err);
}

BOOST_AUTO_TEST_SUITE_END()
