// The Debian package, used the way docs/operators.md tells an operator to: made with
// cpack from a GCC build tree (JOBSSH_PACKAGE_TREE: this one, or the build/ that scripts/test
// names to its sanitizer tree), installed with dpkg into a clean Debian (a container of the
// local image jobssh-vm-base, which has no network to Debian: the Boost runtime packages
// the .deb depends on are copied in from the host), and then used there.
#define BOOST_TEST_MODULE package
#include "child_process.hpp"
#include "sandbox.hpp"
#include "scratch_dir.hpp"

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <jobssh/common/config.hpp>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace std::chrono_literals;
using jobssh::fixtures::run_result;
using jobssh::fixtures::sandbox;
using jobssh::fixtures::sandbox_options;
using jobssh::testing::lines_in;
using jobssh::testing::scratch_dir;
namespace fs = std::filesystem;

namespace {

const std::string base_image = "jobssh-vm-base";
const std::string ed25519 = "AAAAC3NzaC1lZDI1NTE5AAAAIGgrUHHEdqhBhO9bR5fJkxx5PPGTYPl1vE1Cbrjs2Kv5";

std::string describe(const std::vector<std::string>& argv, const run_result& r) {
    std::string line;
    for (const auto& word : argv)
        line += (line.empty() ? "" : " ") + word;
    return line + " exited " + std::to_string(r.exit_code) + "\nstdout: " + r.out +
           "\nstderr: " + r.err;
}

std::string checked(const std::vector<std::string>& argv,
                    std::chrono::seconds timeout = std::chrono::seconds(120)) {
    auto r = sandbox::run(argv, std::nullopt, timeout);
    if (r.exit_code != 0)
        throw std::runtime_error(describe(argv, r));
    return r.out;
}

// Never a silent skip: without Docker or the base image there is nothing to install into.
void require_docker() {
    auto info =
        sandbox::run({"docker", "info", "--format", "{{.ServerVersion}}"}, std::nullopt, 30s);
    if (info.exit_code != 0)
        throw std::runtime_error("no Docker engine answers (docker info: " +
                                 info.err.substr(0, info.err.find_last_not_of("\n") + 1) +
                                 "); start one with `dockerd --bridge=none --iptables=false`");
    auto image = sandbox::run({"docker", "image", "inspect", base_image}, std::nullopt, 30s);
    if (image.exit_code != 0)
        throw std::runtime_error("the clean Debian image " + base_image +
                                 " is missing: run scripts/build-vm-image");
}

// "libc6 (>= 2.34), openssh-server | foo" -> {"libc6", "openssh-server"}
std::vector<std::string> package_names(const std::string& depends) {
    std::vector<std::string> names;
    std::istringstream in(depends);
    for (std::string item; std::getline(in, item, ',');) {
        std::istringstream words(item);
        std::string name;
        words >> name;
        if (!name.empty())
            names.push_back(name.substr(0, name.find(':')));
    }
    return names;
}

// The host's .deb of an installed package: from apt's cache, else downloaded by apt.
fs::path host_deb(const std::string& name, const fs::path& into) {
    auto version = checked({"dpkg-query", "-W", "-f", "${Version}", name});
    auto arch = checked({"dpkg-query", "-W", "-f", "${Architecture}", name});
    auto file_version = version;
    if (auto colon = file_version.find(':'); colon != std::string::npos)
        file_version.replace(colon, 1, "%3a");
    const fs::path cached =
        fs::path("/var/cache/apt/archives") / (name + "_" + file_version + "_" + arch + ".deb");
    if (fs::exists(cached)) {
        fs::copy_file(cached, into / cached.filename(), fs::copy_options::overwrite_existing);
        return into / cached.filename();
    }
    auto download = sandbox::run(
        {"sh", "-c", "cd '" + into.string() + "' && apt-get download " + name + "=" + version},
        std::nullopt, 300s);
    if (download.exit_code != 0)
        throw std::runtime_error("the clean Debian needs " + name + " " + version +
                                 ", which is neither in /var/cache/apt/archives nor "
                                 "downloadable: " +
                                 download.err);
    return into / cached.filename();
}

// The .deb made from the package tree, and the packages it needs that the clean Debian
// lacks. Made once for all the test cases.
struct package {
    scratch_dir dir;
    fs::path deb;
    std::string depends;
};

const package& the_package() {
    static std::unique_ptr<package> made;
    static std::string failed;
    if (made)
        return *made;
    if (!failed.empty())
        throw std::runtime_error(failed);
    try {
        require_docker();
        auto p = std::make_unique<package>();
        checked({"cpack", "-G", "DEB", "--config",
                 std::string(JOBSSH_PACKAGE_TREE) + "/CPackConfig.cmake", "-B",
                 p->dir.path().string()},
                300s);
        for (const auto& entry : fs::directory_iterator(p->dir.path()))
            if (entry.path().extension() == ".deb")
                p->deb = entry.path();
        if (p->deb.empty())
            throw std::runtime_error("cpack wrote no .deb into " + p->dir.path().string());
        p->depends = checked({"dpkg-deb", "-f", p->deb.string(), "Depends"});

        auto installed = lines_in(checked({"docker", "run", "--rm", "--network", "none", base_image,
                                           "dpkg-query", "-W", "-f", "${Package}\\n"}));
        fs::create_directory(p->dir.path() / "deps");
        for (const auto& name : package_names(p->depends))
            if (std::find(installed.begin(), installed.end(), name) == installed.end())
                host_deb(name, p->dir.path() / "deps");
        made = std::move(p);
        return *made;
    } catch (const std::exception& e) {
        failed = e.what();
        throw;
    }
}

// A clean Debian in a container of our own, removed when the test case ends. Host
// network, so that it reaches the fixtures on 127.0.0.1, and no route anywhere else.
class debian {
public:
    explicit debian(const std::vector<std::pair<fs::path, fs::path>>& mounts = {}) {
        static std::atomic<int> serial{0};
        name_ = "jobssh-package-" + std::to_string(::getpid()) + "-" + std::to_string(serial++);
        std::vector<std::string> argv = {"docker", "run",       "-d",  "--name",
                                         name_,    "--network", "host"};
        argv.insert(argv.end(), {"-v", the_package().dir.path().string() + ":/packages:ro"});
        for (const auto& [from, to] : mounts)
            argv.insert(argv.end(), {"-v", from.string() + ":" + to.string() + ":ro"});
        argv.insert(argv.end(), {base_image, "sleep", "infinity"});
        checked(argv);
    }
    ~debian() { sandbox::run({"docker", "rm", "-f", name_}, std::nullopt, 60s); }
    debian(const debian&) = delete;
    debian& operator=(const debian&) = delete;

    run_result sh(const std::string& script, std::chrono::seconds timeout = 120s) const {
        return sandbox::run({"docker", "exec", name_, "sh", "-c", script}, std::nullopt, timeout);
    }

    // What the operator types first: dpkg -i of the package and what it depends on.
    void install() const {
        auto r = sh("dpkg -i $(ls /packages/deps/*.deb 2>/dev/null) /packages/" +
                    the_package().deb.filename().string());
        if (r.exit_code != 0)
            throw std::runtime_error("dpkg -i failed:\n" + r.out + r.err);
    }

private:
    std::string name_;
};

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

} // namespace

// The example an operator copies states jobssh's defaults: reading it changes nothing.
BOOST_AUTO_TEST_CASE(the_example_config_reads_as_exactly_the_defaults) {
    const auto example = fs::path(JOBSSH_SOURCE_DIR) / "packaging" / "config.ini";
    const jobssh::config read = jobssh::load_config(example);
    const jobssh::config defaults;
    BOOST_TEST(read.owner_name == defaults.owner_name);
    BOOST_TEST(read.owner_email == defaults.owner_email);
    BOOST_TEST(read.builds_origin == defaults.builds_origin);
    BOOST_TEST(read.runner_host == defaults.runner_host);
    BOOST_TEST(read.runner_port == defaults.runner_port);
    BOOST_TEST(read.buildlogs == defaults.buildlogs);
    BOOST_TEST(read.meta_origin == defaults.meta_origin);
    BOOST_TEST(read.meta_api_origin == defaults.meta_api_origin);
    BOOST_TEST(read.login_user == defaults.login_user);
    BOOST_TEST(read.shell == defaults.shell);
    BOOST_TEST((read.authenticate == defaults.authenticate));
    BOOST_TEST(read.keys_timeout.count() == defaults.keys_timeout.count());
    BOOST_TEST(read.http_timeout.count() == defaults.http_timeout.count());
    BOOST_TEST(read.poll_interval.count() == defaults.poll_interval.count());
    BOOST_TEST(read.vm_identity == defaults.vm_identity);
    BOOST_TEST(read.state_dir == defaults.state_dir);
}

BOOST_AUTO_TEST_CASE(the_package_depends_on_sshd_and_libc_only) {
    const auto& names = package_names(the_package().depends);
    for (const char* needed : {"openssh-server", "openssh-client", "libc6"})
        BOOST_TEST((std::find(names.begin(), names.end(), needed) != names.end()),
                   "Depends lacks " << needed << ": " << the_package().depends);
    // The C++ runtime and Boost's compiled parts are inside the programs.
    for (const auto& name : names)
        BOOST_TEST(!(name.starts_with("libboost") || name.starts_with("libstdc++") ||
                     name.starts_with("libgcc")),
                   "Depends names " << name << ": " << the_package().depends);
}

BOOST_AUTO_TEST_CASE(installing_gives_both_programs_the_builds_user_and_the_sshd_snippet) {
    debian machine;
    machine.install();

    auto files = machine.sh("dpkg -L jobssh").out;
    for (const char* file :
         {"/usr/bin/jobssh-keys", "/usr/bin/jobssh-shell", "/usr/share/man/man8/jobssh-keys.8.gz",
          "/usr/share/man/man8/jobssh-shell.8.gz", "/usr/share/doc/jobssh/examples/config.ini",
          "/usr/share/doc/jobssh/operators.md", "/usr/share/doc/jobssh/design.md",
          "/etc/ssh/sshd_config.d/jobssh.conf"})
        BOOST_TEST(contains(files, std::string(file) + "\n"), "the package lacks " << file);
    // The operators' docs link only what is installed beside them (design.md: the contracts).
    auto dangling = machine.sh("cd /usr/share/doc/jobssh && "
                               "grep -ohE '\\]\\([^)#: ]+[)#]' operators.md design.md | "
                               "cut -c3- | tr -d ')#' | "
                               "while read -r f; do [ -e \"$f\" ] || echo \"$f\"; done");
    BOOST_TEST(dangling.exit_code == 0, dangling.err);
    BOOST_TEST(dangling.out.empty(), "links to nothing installed: " << dangling.out);
    BOOST_TEST(machine.sh("cat /var/lib/dpkg/info/jobssh.conffiles").out ==
               "/etc/ssh/sshd_config.d/jobssh.conf\n");

    // sshd refuses a locked account ('!'); '*' is no password, not a locked one.
    BOOST_TEST(machine.sh("getent passwd builds | cut -d: -f6,7").out == "/home/builds:/bin/sh\n");
    BOOST_TEST(machine.sh("getent shadow builds | cut -d: -f2").out == "*\n");
    BOOST_TEST(machine.sh("stat -c '%U %a' /var/lib/jobssh").out == "builds 750\n");

    auto check = machine.sh("mkdir -p /run/sshd && ssh-keygen -A >/dev/null && sshd -t");
    BOOST_TEST(check.exit_code == 0, "sshd rejects its configuration: " << check.err);
    auto builds =
        lines_in(machine.sh("sshd -T -C user=builds,host=client.example,addr=192.0.2.1").out);
    for (const char* setting :
         {"authorizedkeyscommand /usr/bin/jobssh-keys %u %h %t %k",
          "authorizedkeyscommanduser nobody", "authorizedkeysfile none", "permittty yes",
          "allowtcpforwarding no", "allowagentforwarding no", "allowstreamlocalforwarding no",
          "x11forwarding no", "permittunnel no"})
        BOOST_TEST((std::find(builds.begin(), builds.end(), setting) != builds.end()),
                   "sshd -T for builds lacks \"" << setting << "\"");
    // Everybody else logs in as before.
    auto others =
        lines_in(machine.sh("sshd -T -C user=root,host=client.example,addr=192.0.2.1").out);
    BOOST_TEST(
        (std::find(others.begin(), others.end(), "authorizedkeyscommand none") != others.end()));
}

BOOST_AUTO_TEST_CASE(the_installed_jobssh_keys_prints_the_forced_command_sshd_needs) {
    debian machine;
    machine.install();

    // As sshd runs it: the AuthorizedKeysCommandUser of the snippet, nothing configured.
    // No meta answers at the default origin (http://localhost): the key is let in without
    // --owner, for jobssh-shell to ask meta itself.
    auto line = machine.sh("setpriv --reuid=nobody --regid=nogroup --clear-groups "
                           "/usr/bin/jobssh-keys builds /home/builds ssh-ed25519 " +
                           ed25519);
    BOOST_TEST(line.exit_code == 0, line.err);
    BOOST_TEST(line.out == "restrict,pty,command=\"/usr/bin/jobssh-shell '" + ed25519 +
                               "'\" ssh-ed25519 " + ed25519 + " somebody\n");

    auto malformed = machine.sh("/usr/bin/jobssh-keys builds /home/builds ssh-ed25519 'AA AA'");
    BOOST_TEST(malformed.exit_code == 65);
    BOOST_TEST(malformed.out.empty());

    // Another user's own keys pass through unchanged.
    auto admin = machine.sh("mkdir -p /root/.ssh && printf 'ssh-ed25519 %s admin\\n' " + ed25519 +
                            " > /root/.ssh/authorized_keys && "
                            "/usr/bin/jobssh-keys root /root ssh-ed25519 " +
                            ed25519);
    BOOST_TEST(admin.exit_code == 0, admin.err);
    BOOST_TEST(admin.out == "ssh-ed25519 " + ed25519 + " admin\n");

    BOOST_TEST(machine.sh("/usr/bin/jobssh-keys --version").out ==
               std::string("jobssh-keys ") + JOBSSH_VERSION + "\n");
    BOOST_TEST(machine.sh("/usr/bin/jobssh-shell --version").out ==
               std::string("jobssh-shell ") + JOBSSH_VERSION + "\n");
}

BOOST_AUTO_TEST_CASE(an_existing_builds_user_is_kept_and_purging_removes_all_but_the_user) {
    debian machine;
    // A builds.sr.ht runner host: its worker already runs as builds.
    auto existing = machine.sh("useradd --uid 4242 --home-dir /srv/builds --create-home "
                               "--shell /bin/bash builds && usermod -p '*' builds");
    BOOST_REQUIRE_MESSAGE(existing.exit_code == 0, existing.err);
    machine.install();
    machine.install(); // reinstalling is harmless
    BOOST_TEST(machine.sh("getent passwd builds | cut -d: -f3,6,7").out ==
               "4242:/srv/builds:/bin/bash\n");
    BOOST_TEST(machine.sh("stat -c '%u %a' /var/lib/jobssh").out == "4242 750\n");

    auto purge = machine.sh("dpkg --purge jobssh");
    BOOST_TEST(purge.exit_code == 0, purge.out << purge.err);
    BOOST_TEST(machine
                   .sh("ls /usr/bin/jobssh-keys /usr/bin/jobssh-shell "
                       "/etc/ssh/sshd_config.d/jobssh.conf /var/lib/jobssh 2>/dev/null")
                   .out.empty());
    BOOST_TEST(machine.sh("getent passwd builds | cut -d: -f3").out == "4242\n");
}

// What the programs send to syslog inside the container: a datagram socket of ours,
// mounted there as /dev/log. Each message reads "<PRI>timestamp ident[pid]: text".
// A thread keeps reading, since a sender blocks once a few datagrams are queued.
class syslog_sink {
public:
    syslog_sink()
        : fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
        if (fd_ < 0)
            throw std::runtime_error("socket(AF_UNIX) failed");
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        const auto path = (dir_.path() / "log").string();
        path.copy(address.sun_path, sizeof address.sun_path - 1);
        timeval wake{0, 100'000};
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
            ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &wake, sizeof wake) != 0)
            throw std::runtime_error("cannot listen on " + path);
        // The programs run as builds and nobody in the container.
        fs::permissions(dir_.path() / "log", fs::perms::all);
        reader_ = std::thread([this] {
            char buffer[8192];
            while (!stop_) {
                auto n = ::recv(fd_, buffer, sizeof buffer, 0);
                if (n > 0) {
                    std::lock_guard lock(mutex_);
                    received_.emplace_back(buffer, static_cast<std::size_t>(n));
                    arrived_.notify_all();
                }
            }
        });
    }
    ~syslog_sink() {
        stop_ = true;
        reader_.join();
        ::close(fd_);
    }
    syslog_sink(const syslog_sink&) = delete;
    syslog_sink& operator=(const syslog_sink&) = delete;

    fs::path socket() const { return dir_.path() / "log"; }

    // The last message from `ident` that holds `text`, with its priority: "<86>…"; empty
    // when none came within 10 s. The programs sent theirs before they exited, but this
    // side's reader may not have taken it off the socket yet (it lagged once on a loaded
    // machine).
    std::string find(const std::string& ident, const std::string& text) {
        std::unique_lock lock(mutex_);
        std::string found;
        arrived_.wait_for(lock, std::chrono::seconds(10), [&] {
            for (const auto& message : received_)
                if (contains(message, " " + ident + "[") && contains(message, text))
                    found = message;
            return !found.empty();
        });
        return found;
    }

private:
    scratch_dir dir_;
    int fd_;
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    std::condition_variable arrived_;
    std::vector<std::string> received_;
    std::thread reader_;
};

// The issue's "done when": a clean Debian where the package was installed and set up by
// following docs/operators.md ("On a host without SourceHut's config", "sshd", "The VM
// identity"), in front of the fixtures' runner, meta and VMs; a real ssh client on the
// host reaches jobssh through that Debian's sshd.
class debian_from_the_docs {
public:
    explicit debian_from_the_docs(const std::string& jobs_json)
        : world_(options(data_.write("jobs.json", jobs_json),
                         data_.write("users.json", R"({"users": [{"name": "alice", "id": 1},
                                                                 {"name": "bob", "id": 2}]})")))
        , machine_({{world_.buildlogs(), world_.buildlogs()},
                    {world_.vm_identity(), "/run/vm-identity"},
                    {syslog_.socket(), "/dev/log"}}) {
        machine_.install();
        port_ = jobssh::fixtures::pick_free_port();
        auto set_up = machine_.sh(
            "set -e\n"
            "mkdir -p /etc/jobssh\n"
            "cp /usr/share/doc/jobssh/examples/config.ini /etc/jobssh/config.ini\n"
            "sed -i -e 's|^owner-name=.*|owner-name=Package Test|' "
            "-e 's|^owner-email=.*|owner-email=ops@example.org|' "
            "-e 's|^bind-address=.*|bind-address=127.0.0.1:" +
            std::to_string(world_.runner_port()) +
            "|' "
            "-e 's|^buildlogs=.*|buildlogs=" +
            world_.buildlogs().string() +
            "|' "
            "-e 's|^;internal-origin=.*|internal-origin=http://127.0.0.1:" +
            std::to_string(world_.meta_port()) +
            "|' "
            "-e 's|^poll-interval=.*|poll-interval=0.2|' /etc/jobssh/config.ini\n"
            // vm-identity unset: ssh's default key of builds is the one the VMs trust.
            "install -d -o builds -g builds -m 700 /home/builds/.ssh\n"
            "install -o builds -g builds -m 600 /run/vm-identity /home/builds/.ssh/id_ed25519\n"
            // The snippet is in place; a container has no systemd to `reload ssh`.
            "ssh-keygen -A >/dev/null\n"
            "mkdir -p /run/sshd\n"
            "sshd -t\n"
            "/usr/sbin/sshd -o Port=" +
            std::to_string(port_) + " -o ListenAddress=127.0.0.1\n");
        if (set_up.exit_code != 0)
            throw std::runtime_error("setting up the clean Debian failed:\n" + set_up.out +
                                     set_up.err);
        auto until = std::chrono::steady_clock::now() + 30s;
        while (!jobssh::fixtures::port_accepts(port_)) {
            if (std::chrono::steady_clock::now() > until)
                throw std::runtime_error("the container's sshd does not listen on port " +
                                         std::to_string(port_));
            std::this_thread::sleep_for(50ms);
        }
    }

    // `ssh builds@127.0.0.1 <command>` with a user's key, to the container's sshd.
    run_result ssh(std::string_view user, const std::string& command) const {
        auto argv = world_.ssh_argv(user, command);
        *(std::find(argv.begin(), argv.end(), "-p") + 1) = std::to_string(port_);
        return sandbox::run(argv, std::nullopt, 120s);
    }

    sandbox& world() { return world_; }
    syslog_sink& syslog() { return syslog_; }

private:
    static sandbox_options options(const fs::path& jobs, const fs::path& users) {
        sandbox_options o;
        o.jobs_file = jobs;
        o.users_file = users;
        return o;
    }

    scratch_dir data_;
    sandbox world_;
    syslog_sink syslog_;
    debian machine_;
    std::uint16_t port_ = 0;
};

BOOST_AUTO_TEST_CASE(ssh_builds_tail_follows_a_job_on_a_clean_debian_set_up_from_the_docs) {
    debian_from_the_docs machine(R"({"jobs": [{
        "id": 7, "owner": "alice", "owner_id": 1,
        "log": ["[#7] Booting image debian/bookworm", "[#7] Sending tasks"],
        "tasks": [{"name": "build", "log": ["+ make", "Héllo wörld ✓"]}],
        "pace_ms": 300, "result": "success"}]})");

    auto tail = machine.ssh("alice", "tail 7");
    BOOST_TEST(tail.exit_code == 0, tail.err);
    std::vector<std::string> job_lines, task_lines;
    for (const auto& line : lines_in(tail.out))
        (line.starts_with("[build] ") ? task_lines : job_lines).push_back(line);
    BOOST_TEST(job_lines == (std::vector<std::string>{"[#7] Booting image debian/bookworm",
                                                      "[#7] Sending tasks"}),
               boost::test_tools::per_element());
    BOOST_TEST(task_lines == (std::vector<std::string>{"[build] + make", "[build] Héllo wörld ✓"}),
               boost::test_tools::per_element());
    auto requests = machine.world().runner_requests();
    BOOST_TEST((std::find(requests.begin(), requests.end(), "GET /job/7/info") != requests.end()));

    auto bob = machine.ssh("bob", "tail 7");
    BOOST_TEST(bob.exit_code == 77);
    BOOST_TEST(bob.out.empty());
    BOOST_TEST(bob.err == "You are not permitted to connect to this job.\n"
                          "Please reach out to Package Test <ops@example.org> for support.\n");

    // The example config's `authenticate = keys`: jobssh-keys asked meta, which does not
    // know the key, so sshd itself refused it.
    auto stranger = machine.ssh("stranger", "tail 7");
    BOOST_TEST(stranger.exit_code == 255);
    BOOST_TEST(contains(stranger.err, "Permission denied (publickey)"), stranger.err);
    BOOST_TEST(stranger.out == "");

    // The operator's side: one line per session, auth decisions as authpriv (10 << 3),
    // the rest as daemon (3 << 3); info is 6.
    auto served = machine.syslog().find("jobssh-shell", "user=alice");
    BOOST_TEST(served.starts_with("<30>"), served);
    BOOST_TEST(contains(served, "job=7 user=alice "), served);
    BOOST_TEST(contains(served, "command=\"tail 7\" outcome=success exit=0 "), served);
    auto refused = machine.syslog().find("jobssh-shell", "user=bob");
    BOOST_TEST(refused.starts_with("<86>"), refused);
    BOOST_TEST(contains(refused, "outcome=not_permitted exit=77 "), refused);
    auto unknown = machine.syslog().find("jobssh-keys", "outcome=unknown_key");
    BOOST_TEST(unknown.starts_with("<86>"), unknown);
}

BOOST_AUTO_TEST_CASE(ssh_builds_connect_runs_a_command_on_the_job_vm_from_a_clean_debian) {
    debian_from_the_docs machine(R"({"jobs": [{
        "id": 8, "owner": "alice", "owner_id": 1, "log": ["[#8] done"],
        "result": "success", "shell": true}]})");

    auto hello = machine.ssh("alice", "connect 8 -- echo hello from the VM");
    BOOST_TEST(hello.exit_code == 0, hello.err);
    BOOST_TEST(hello.out == "hello from the VM\n");
    // One command, no banner: as in builds.sr.ht.
    BOOST_TEST(!contains(hello.err, "Connected to build job"), hello.err);

    auto requests = machine.world().runner_requests();
    BOOST_TEST(
        (std::find(requests.begin(), requests.end(), "POST /job/8/claim") != requests.end()));
    // The packaged config keeps the VM for [jobssh] linger after a one-command session
    // (docs/design.md, "The VM's life"): not terminated yet.
    BOOST_TEST(
        (std::find(requests.begin(), requests.end(), "POST /job/8/terminate") == requests.end()));
}
