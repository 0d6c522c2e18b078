// Nobody is let in: a key of one user never reaches another user's job, whatever the
// command; crafted job ids and keys never get out of the forced command's quoting or the
// ssh argument list; and `restrict` in the line jobssh-keys prints keeps port, agent and X11
// forwarding shut even on an sshd that allows them.
#define BOOST_TEST_MODULE security
#include "child_process.hpp"
#include "sandbox_world.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <boost/asio/io_context.hpp>
#include <csignal>
#include <fstream>
#include <netinet/in.h>
#include <poll.h>
#include <regex>
#include <sstream>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using namespace jobssh::testing;

using jobssh::fixtures::background_process;

namespace {

// Job 1 is bob's and keeps its VM; job 2 is alice's (the forced commands of the restrict
// tests run on it); job 3 is bob's too, for bob's own session. "bobby" is not bob.
const char* const jobs_json = R"({"jobs": [
  {"id": 1, "owner": "bob", "owner_id": 2, "log": ["bob's private log"],
   "tasks": [{"name": "build", "log": ["bob's secret build"]}], "pace_ms": 0,
   "result": "success", "shell": true, "deadline_s": 14400},
  {"id": 2, "owner": "alice", "owner_id": 1, "log": ["alice's log"],
   "tasks": [{"name": "build", "log": ["built"]}], "pace_ms": 0, "result": "success"},
  {"id": 3, "owner": "bob", "owner_id": 2, "log": ["bob again"],
   "tasks": [{"name": "build", "log": ["built"]}], "pace_ms": 0, "result": "success",
   "shell": true, "deadline_s": 14400}
]})";

const char* const users_json = R"({"users": [{"name": "alice", "id": 1}, {"name": "bob", "id": 2},
  {"name": "bobby", "id": 3}]})";

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

void write_file(const fs::path& file, const std::string& text, fs::perms mode) {
    std::ofstream(file, std::ios::binary | std::ios::trunc) << text;
    fs::permissions(file, mode);
}

std::uint16_t port_of(int fd) {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    return ntohs(address.sin_port);
}

// A TCP listener on 127.0.0.1: what a forward would reach if it got through.
class listener {
public:
    listener() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        BOOST_TEST_REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        BOOST_TEST_REQUIRE(::listen(fd_, 16) == 0);
    }
    ~listener() { ::close(fd_); }
    std::uint16_t port() const { return port_of(fd_); }
    // Whether a connection arrived within `bound` (0: whether one is waiting now).
    bool connection_arrived(std::chrono::milliseconds bound = 0ms) const {
        pollfd p{fd_, POLLIN, 0};
        return ::poll(&p, 1, static_cast<int>(bound.count())) == 1;
    }

private:
    int fd_ = -1;
};

// Connects to 127.0.0.1:port, retrying while nothing listens yet (bounded). -1 if never.
int connect_when_listening(std::uint16_t port, std::chrono::seconds bound) {
    auto until = std::chrono::steady_clock::now() + bound;
    for (;;) {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0)
            return fd;
        ::close(fd);
        if (std::chrono::steady_clock::now() > until)
            return -1;
        std::this_thread::sleep_for(50ms);
    }
}

// Reads until the peer closes (true) or `bound` passes without that (false).
bool closed_by_peer(int fd, std::chrono::seconds bound) {
    auto until = std::chrono::steady_clock::now() + bound;
    char buffer[256];
    while (std::chrono::steady_clock::now() < until) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) == 1) {
            auto n = ::read(fd, buffer, sizeof buffer);
            if (n <= 0)
                return true;
        }
    }
    return false;
}

// The programs of ours running in the background (an ssh client, an sshd, an agent) hold
// their stdout pipe and process handle on this io_context; nothing runs it.
boost::asio::io_context& background_io() {
    static boost::asio::io_context io;
    return io;
}

// The front sshd of the sandbox allows no forwarding at all in its sshd_config, which would
// hide whether `restrict` works. These two sshds allow every forwarding, like a stock one:
// `restricted` takes its keys from jobssh-keys, `plain` from an authorized_keys file whose
// line has the same forced command but no `restrict` (showing that the checks below do see
// a forward that gets through). Their forced command prints what the session was given.
struct open_sshds {
    fs::path dir;
    std::uint16_t restricted_port = 0;
    std::uint16_t plain_port = 0;
    std::vector<std::unique_ptr<background_process>> processes;

    explicit open_sshds(const sandbox& sb) {
        dir = sb.dir() / "security";
        fs::create_directories(dir);
        fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                 fs::perms::others_read | fs::perms::others_exec);
        const fs::path shell = dir / "what-the-session-got";
        write_file(shell,
                   "#!/bin/sh\n"
                   "echo \"agent=${SSH_AUTH_SOCK:+forwarded} display=${DISPLAY:-none}\"\n",
                   fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                       fs::perms::others_read | fs::perms::others_exec);
        const fs::path config = dir / "config.ini";
        write_file(config,
                   std::regex_replace(read_file(sb.config_file()), std::regex("\nshell = [^\n]*"),
                                      "\nshell = " + shell.string()),
                   fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                       fs::perms::others_read);
        std::string base = read_file(sb.dir() / "sshd" / "sshd_config");
        for (const char* option : {"X11Forwarding", "AllowTcpForwarding", "AllowAgentForwarding"})
            base = std::regex_replace(base, std::regex(std::string(option) + " no"),
                                      std::string(option) + " yes");
        // jobssh-keys with our config: the same line, with the session printer as shell.
        std::string restricted = std::regex_replace(base, std::regex("--config [^ ]+ %u"),
                                                    "--config " + config.string() + " %u");
        const fs::path keys_file = dir / "plain_authorized_keys";
        write_file(keys_file,
                   "command=\"" + shell.string() + "\" ssh-ed25519 " + sb.public_key_b64("alice") +
                       " alice\n",
                   fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                       fs::perms::others_read);
        std::string plain = std::regex_replace(base, std::regex("AuthorizedKeysFile none\n"),
                                               "AuthorizedKeysFile " + keys_file.string() + "\n");
        plain = std::regex_replace(plain, std::regex("AuthorizedKeysCommand [^\n]*\n"), "");
        plain = std::regex_replace(plain, std::regex("AuthorizedKeysCommandUser [^\n]*\n"), "");
        restricted_port = start("restricted", restricted);
        plain_port = start("plain", plain);
    }

    std::uint16_t start(const std::string& name, std::string config_text) {
        std::uint16_t port = jobssh::fixtures::pick_free_port();
        config_text = std::regex_replace(config_text, std::regex("Port [0-9]+"),
                                         "Port " + std::to_string(port));
        const fs::path file = dir / (name + "_sshd_config");
        write_file(file, config_text, fs::perms::owner_read | fs::perms::owner_write);
        auto check = sandbox::run({"/usr/sbin/sshd", "-t", "-f", file.string()});
        BOOST_TEST_REQUIRE(check.exit_code == 0, "sshd -t: " << check.err);
        processes.push_back(std::make_unique<background_process>(
            background_io(),
            std::vector<std::string>{"/usr/sbin/sshd", "-D", "-e", "-f", file.string()},
            dir / (name + "_sshd.log")));
        int fd = connect_when_listening(port, 15s);
        BOOST_TEST_REQUIRE(fd >= 0, name << " sshd did not come up");
        ::close(fd);
        return port;
    }
};

struct security_world : jobssh::testing::sandbox_world {
    security_world()
        : sandbox_world(jobs_json, users_json, [](sandbox_options& options) {
            ::signal(SIGPIPE, SIG_IGN);
            options.poll_interval = 100ms;
        }) {
        // The login user must be able to reach `marks`, or an injection could not show.
        fs::permissions(data, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);
        fs::create_directories(marks);
        fs::permissions(marks, fs::perms::all);
        sshds = std::make_unique<open_sshds>(*box);
    }
    ~security_world() { sshds.reset(); }

    fs::path data = scratch.path();
    // Where an injected command would leave its mark: writable by the login user.
    fs::path marks = data / "marks";
    std::unique_ptr<open_sshds> sshds;
    // The configuration the shell reads, for the messages that name the operator.
    jobssh::config cfg = jobssh::load_config(box->config_file());
};
JOBSSH_MODULE_WORLD(security_world);

// ssh to one of the open sshds as `user`, with extra client options.
std::vector<std::string> ssh_to(std::uint16_t port, std::string_view user,
                                const std::vector<std::string>& options,
                                std::string_view remote_command = "") {
    auto argv = box().ssh_argv(user, remote_command);
    for (std::size_t i = 0; i + 1 < argv.size(); ++i)
        if (argv[i] == "-p")
            argv[i + 1] = std::to_string(port);
    if (remote_command.empty())
        argv.pop_back();
    // INFO: the client says when the server refused a request.
    std::replace(argv.begin(), argv.end(), std::string("LogLevel=ERROR"),
                 std::string("LogLevel=INFO"));
    argv.insert(argv.end() - (remote_command.empty() ? 2 : 3), options.begin(), options.end());
    return argv;
}

std::size_t requests_for(const std::vector<std::string>& requests, const std::string& part) {
    return std::count_if(requests.begin(), requests.end(),
                         [&](const std::string& r) { return contains(r, part); });
}

} // namespace

BOOST_AUTO_TEST_CASE(a_key_of_alice_reaches_no_job_of_bob_with_any_command) {
    // The mark is a path on bob's VM, where a command that got through would run: looking
    // for it there is what shows that nothing ran. A session that got in would terminate
    // the VM as it ended, and the mark with it, so the runner only answers terminate here
    // (the request is still recorded). Seen to fail with shell.cpp's owner check taken out:
    // every command let in, the mark on the VM.
    const std::string mark = "/tmp/alice-was-here";
    box().runner_fault(R"({"status": 200, "body": "ok", "match": "POST /job/1/terminate"})");
    for (const std::string& command : std::vector<std::string>{
             "tail 1", "connect 1", "connect 1 -- touch " + mark, "connect 1 touch " + mark,
             "connect 01 -- touch " + mark, "tail 0001"}) {
        auto result = sandbox::run(box().ssh_argv("alice", command));
        BOOST_TEST(result.exit_code == 77, command);
        BOOST_TEST(result.err == "You are not permitted to connect to this job.\n" +
                                     support_line(world().cfg),
                   command);
        BOOST_TEST(result.out == "", command);
    }
    box().runner_fault("{}");
    auto requests = box().runner_requests();
    BOOST_TEST(requests_for(requests, "POST /job/1/") == 0u);
    BOOST_TEST_REQUIRE(box().vm_running(1));
    auto on_vm = sandbox::run(box().vm_ssh_argv(1, "ls -a /tmp"));
    BOOST_TEST_REQUIRE(on_vm.exit_code == 0, on_vm.err);
    BOOST_TEST(!contains(on_vm.out, "alice-was-here"), on_vm.out);
}

BOOST_AUTO_TEST_CASE(a_user_whose_name_starts_like_the_owners_is_not_the_owner) {
    for (const std::string& command : std::vector<std::string>{"tail 1", "connect 1 -- true"}) {
        auto result = sandbox::run(box().ssh_argv("bobby", command));
        BOOST_TEST(result.exit_code == 77, command);
        BOOST_TEST(result.err == "You are not permitted to connect to this job.\n" +
                                     support_line(world().cfg),
                   command);
        BOOST_TEST(result.out == "");
    }
}

BOOST_AUTO_TEST_CASE(the_owner_himself_does_get_in_so_the_refusals_above_are_about_the_key) {
    auto result = sandbox::run(box().ssh_argv("bob", "connect 3 -- echo bob-on-his-vm"));
    BOOST_TEST(result.exit_code == 0, result.err);
    BOOST_TEST(contains(result.out, "bob-on-his-vm\n"));
}

BOOST_AUTO_TEST_CASE(job_ids_crafted_to_break_out_are_refused_before_the_runner_is_asked) {
    const std::string mark = (world().marks / "injected").string();
    const auto before = box().runner_requests().size();
    for (const std::string& command : std::vector<std::string>{
             "tail '2;touch " + mark + "'", "tail 2;touch " + mark, "tail $(touch " + mark + ")",
             "tail `touch " + mark + "`", "tail \"2\\\"; touch " + mark + "\"",
             "tail 2\ntouch " + mark, "connect -2", "connect --2", "connect -- 2",
             "tail -oProxyCommand=touch\\ " + mark, "tail 2/../1", "tail ../2", "tail 0x2",
             "tail 2e0", "tail +2", "tail ' 2'", "tail 2\\;", "connect 9223372036854775808"}) {
        auto result = box().run_shell("alice", command);
        BOOST_TEST((result.exit_code == 64 || result.exit_code == 65), command);
        BOOST_TEST((contains(result.err, "Usage: ssh ... connect <job ID>\n") ||
                    contains(result.err, "That is not a job ID")),
                   command);
        BOOST_TEST(result.out == "", command);
    }
    BOOST_TEST(box().runner_requests().size() == before);
    BOOST_TEST(!fs::exists(mark));
}

BOOST_AUTO_TEST_CASE(commands_crafted_to_break_out_through_the_front_sshd_run_nothing) {
    const std::string mark = (world().marks / "injected-over-ssh").string();
    for (const std::string& command : std::vector<std::string>{
             "tail 2; touch " + mark, "tail $(touch " + mark + ")", "touch " + mark,
             "tail 2 && touch " + mark, "tail 2 | touch " + mark, "tail 2\ntouch " + mark}) {
        auto result = sandbox::run(box().ssh_argv("alice", command));
        BOOST_TEST((result.exit_code == 64 || result.exit_code == 65), command);
        BOOST_TEST(result.out == "", command);
    }
    BOOST_TEST(!fs::exists(mark));
}

namespace {

run_result shell_with_key(const std::string& key) {
    return sandbox::run({"env", "SSH_ORIGINAL_COMMAND=tail 2",
                         (box().dir() / "bin" / "jobssh-shell").string(), "--config",
                         box().config_file().string(), key});
}

} // namespace

BOOST_AUTO_TEST_CASE(a_key_that_is_not_base64_is_unknown_and_never_sent_to_meta) {
    const auto before = box().meta_requests().size();
    for (const std::string& key :
         std::vector<std::string>{"AAAA';touch x;'", "$(id)", "AAAA\nAAAA",
                                  "../../_control/requests", "AAAA AAAA", "AAAA/../../x"}) {
        auto result = shell_with_key(key);
        BOOST_TEST(result.exit_code == 77, key);
        BOOST_TEST(result.err == "We don't recognize your SSH key. Make sure you've added it to "
                                 "your account.\n" +
                                     world().cfg.meta_origin + "/keys\n" +
                                     support_line(world().cfg),
                   key << ": " << result.err);
        BOOST_TEST(result.out == "", key);
    }
    // A leading `-` is not even taken for a key.
    auto result = shell_with_key("-oProxyCommand=x");
    BOOST_TEST(result.exit_code == 64);
    BOOST_TEST(contains(result.err, "Usage: "));
    BOOST_TEST(box().meta_requests().size() == before);
}

BOOST_AUTO_TEST_CASE(jobssh_keys_refuses_keys_and_key_types_crafted_to_break_out) {
    const std::string mark = (world().marks / "keys-injected").string();
    const std::string keys = (box().dir() / "bin" / "jobssh-keys").string();
    const std::string good = box().public_key_b64("alice");
    std::vector<std::pair<std::string, std::string>> crafted{
        {"ssh-ed25519", good + "' ; touch " + mark + " ; '"},
        {"ssh-ed25519", good + "\" ; touch " + mark + " ; \""},
        {"ssh-ed25519", "$(touch " + mark + ")"},
        {"ssh-ed25519", "`touch " + mark + "`"},
        {"ssh-ed25519", good + "\ncommand=\"touch " + mark + "\" ssh-ed25519 " + good},
        {"ssh-ed25519", "-oProxyCommand=touch_" + mark},
        {"ssh-ed25519", good + ";"},
        {"ssh-ed25519", good + " " + good},
        {"ssh-ed25519", "\\" + good},
        {"ssh-ed25519\" command=\"touch " + mark, good},
        {"ssh-ed25519 x", good},
        {"ssh-ed25519\n", good},
        {"ssh-ed25519;touch", good},
        {"$(touch " + mark + ")", good},
    };
    for (auto& [type, key] : crafted) {
        auto result = sandbox::run({keys, "--config", box().config_file().string(),
                                    box().login_user(), "/nonexistent", type, key});
        BOOST_TEST(result.exit_code == 65, "[" << type << "] [" << key << "]");
        BOOST_TEST(result.out == "", "[" << type << "] [" << key << "]");
    }
    BOOST_TEST(!fs::exists(mark));
}

BOOST_AUTO_TEST_CASE(the_forced_command_gives_jobssh_shell_the_key_as_one_word_from_awkward_paths) {
    // A config file in a directory whose name is made to break quoting: the forced command
    // still hands the shell exactly three words, and the login shell runs nothing else.
    const std::string mark = (world().marks / "path-injected").string();
    const fs::path awkward =
        world().data / ("it's \"$(touch " + mark + ")\" `touch " + mark + "`; \\ x");
    fs::create_directories(awkward);
    const fs::path printer = world().data / "print-argv";
    write_file(printer, "#!/bin/sh\nfor a; do printf '[%s]\\n' \"$a\"; done\n", fs::perms::all);
    const fs::path config = awkward / "config.ini";
    write_file(config,
               "[jobssh]\nuser = " + box().login_user() + "\nshell = " + printer.string() +
                   "\nauthenticate = shell\n",
               fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read);
    const std::string key = box().public_key_b64("alice");
    auto line =
        sandbox::run({(box().dir() / "bin" / "jobssh-keys").string(), "--config", config.string(),
                      box().login_user(), "/nonexistent", "ssh-ed25519", key});
    BOOST_TEST_REQUIRE(line.exit_code == 0, line.err);
    // sshd's reading of command="…": \" is a quote, everything else stays.
    const std::string start = "restrict,pty,command=\"";
    BOOST_TEST_REQUIRE(line.out.starts_with(start));
    std::string command;
    std::size_t i = start.size();
    for (; i < line.out.size() && line.out[i] != '"'; ++i) {
        if (line.out[i] == '\\' && i + 1 < line.out.size() && line.out[i + 1] == '"')
            ++i;
        command += line.out[i];
    }
    BOOST_TEST(line.out.substr(i) == "\" ssh-ed25519 " + key + " somebody\n");
    auto ran = sandbox::run({"/bin/sh", "-c", command});
    BOOST_TEST(ran.exit_code == 0, ran.err);
    BOOST_TEST(ran.out == "[--config]\n[" + config.string() + "]\n[" + key + "]\n");
    BOOST_TEST(!fs::exists(mark));
}

BOOST_AUTO_TEST_CASE(the_checks_below_see_a_local_forward_where_restrict_is_missing) {
    listener target;
    std::uint16_t local = jobssh::fixtures::pick_free_port();
    background_process client(
        background_io(),
        ssh_to(world().sshds->plain_port, "alice",
               {"-N", "-L", std::to_string(local) + ":127.0.0.1:" + std::to_string(target.port())}),
        world().data / "plain-L.err");
    int fd = connect_when_listening(local, 20s);
    BOOST_TEST_REQUIRE(fd >= 0);
    BOOST_TEST(target.connection_arrived(20000ms));
    ::close(fd);
}

BOOST_AUTO_TEST_CASE(a_local_forward_through_the_front_sshd_reaches_nothing) {
    listener target;
    std::uint16_t local = jobssh::fixtures::pick_free_port();
    const fs::path err = world().data / "L.err";
    {
        background_process client(
            background_io(),
            ssh_to(world().sshds->restricted_port, "alice",
                   {"-N", "-L",
                    std::to_string(local) + ":127.0.0.1:" + std::to_string(target.port())}),
            err);
        int fd = connect_when_listening(local, 20s);
        BOOST_TEST_REQUIRE(fd >= 0);
        BOOST_TEST(::write(fd, "ping\n", 5) == 5);
        // The client closes our end when the server refuses the channel.
        BOOST_TEST(closed_by_peer(fd, 20s));
        ::close(fd);
        BOOST_TEST(!target.connection_arrived());
        // A short grace: OpenSSH 9.2's client checks its quit flag and then calls poll() with
        // no timeout, so a SIGTERM landing between the two is lost. It lands there often
        // here, just as the client closed the refused connection and went back to polling.
        client.stop(5s);
    }
    BOOST_TEST(contains(read_file(err), "administratively prohibited"), read_file(err));
}

BOOST_AUTO_TEST_CASE(stdio_forwarding_with_dash_w_is_refused) {
    listener target;
    auto result = sandbox::run(ssh_to(world().sshds->restricted_port, "alice",
                                      {"-W", "127.0.0.1:" + std::to_string(target.port())}),
                               std::string("ping\n"), 30s);
    BOOST_TEST(result.exit_code == 255);
    BOOST_TEST(contains(result.err, "administratively prohibited"), result.err);
    BOOST_TEST(!target.connection_arrived());
}

BOOST_AUTO_TEST_CASE(a_remote_forward_through_the_front_sshd_is_refused_and_listens_nowhere) {
    listener target;
    std::uint16_t remote = jobssh::fixtures::pick_free_port();
    auto result = sandbox::run(
        ssh_to(world().sshds->restricted_port, "alice",
               {"-N", "-o", "ExitOnForwardFailure=yes", "-R",
                std::to_string(remote) + ":127.0.0.1:" + std::to_string(target.port())}),
        std::nullopt, 30s);
    BOOST_TEST(result.exit_code == 255);
    BOOST_TEST(contains(result.err, "remote port forwarding failed"), result.err);
    BOOST_TEST(connect_when_listening(remote, 0s) == -1);
    BOOST_TEST(!target.connection_arrived());
}

BOOST_AUTO_TEST_CASE(agent_and_x11_forwarding_do_not_reach_the_session) {
    const fs::path agent_socket = world().data / "agent.sock";
    background_process agent(background_io(), {"ssh-agent", "-D", "-a", agent_socket.string()},
                             world().data / "agent.err");
    for (int i = 0; i < 200 && !fs::exists(agent_socket); ++i)
        std::this_thread::sleep_for(25ms);
    BOOST_TEST_REQUIRE(fs::exists(agent_socket));
    auto with_forwarding = [&](std::uint16_t port) {
        auto argv = ssh_to(port, "alice", {"-A", "-X"}, "connect 2");
        argv.insert(argv.begin(),
                    {"env", "SSH_AUTH_SOCK=" + agent_socket.string(), "DISPLAY=127.0.0.1:99"});
        return sandbox::run(argv, std::nullopt, 30s);
    };
    // Where the key line has no `restrict`, the session gets both.
    auto plain = with_forwarding(world().sshds->plain_port);
    BOOST_TEST(plain.exit_code == 0, plain.err);
    BOOST_TEST(contains(plain.out, "agent=forwarded display=localhost:"), plain.out);
    // jobssh-keys' line: neither, and the client is told X11 was refused.
    auto restricted = with_forwarding(world().sshds->restricted_port);
    BOOST_TEST(restricted.exit_code == 0, restricted.err);
    BOOST_TEST(restricted.out == "agent= display=none\n");
    BOOST_TEST(contains(restricted.err, "X11 forwarding request failed"), restricted.err);
}

BOOST_AUTO_TEST_CASE(a_runner_naming_an_ssh_option_as_the_vm_user_or_host_gets_no_ssh_run) {
    const std::string mark = (world().marks / "proxy-command").string();
    const std::int64_t job = box().add_job(
        R"({"id": 4, "owner": "alice", "owner_id": 1, "log": ["x"],
            "tasks": [{"name": "build", "log": ["built"]}], "pace_ms": 0, "result": "success",
            "shell": true, "deadline_s": 14400})");
    const std::string option = "-oProxyCommand=touch " + mark;
    for (const std::string& fields : std::vector<std::string>{
             R"({"ssh_user": ")" + option + R"("})",
             R"({"ssh_user": ")" + box().vm_user() + R"(", "ssh_host": ")" + option + R"("})"}) {
        box().set_job(job, fields);
        auto result =
            sandbox::run(box().ssh_argv("alice", "connect " + std::to_string(job) + " -- true"));
        // Refused as bad VM data from the runner, before any ssh is started.
        BOOST_TEST(result.exit_code == 70, fields << ": " << result.err);
        BOOST_TEST(
            result.err.ends_with("Something went wrong on our side.\n" + support_line(world().cfg)),
            fields << ": " << result.err);
        BOOST_TEST(result.out == "", fields);
        BOOST_TEST(!fs::exists(mark), fields);
    }
}
