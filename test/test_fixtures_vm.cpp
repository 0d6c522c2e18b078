// The fixtures' simulated build VMs and front sshd: a VM is a Docker container running sshd
// on 127.0.0.1:<port> that lets the runner host's key in, presents the host key the runner
// reports, and is gone after terminate, cancel, the deadline or the end of the sandbox.
// These need a Docker engine and the jobssh-vm image: without them they fail, saying so.

#define BOOST_TEST_MODULE fixtures_vm
#include "child_process.hpp"
#include "sandbox.hpp"
#include "scratch_dir.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace fs = std::filesystem;
using jobssh::fixtures::run_result;
using jobssh::fixtures::sandbox;
using jobssh::fixtures::sandbox_options;
using namespace std::chrono_literals;

namespace {

sandbox_options with_vms(bool front_sshd = false) {
    sandbox_options o;
    o.users_file = fs::path(JOBSSH_SOURCE_DIR) / "fixtures/data/users.json";
    o.front_sshd = front_sshd;
    return o;
}

void require_docker_and_image() {
    auto engine = sandbox::run({"docker", "info", "--format", "{{.ServerVersion}}"});
    BOOST_TEST_REQUIRE(engine.exit_code == 0,
                       "no Docker engine answers (docker info: "
                           << engine.err
                           << "); run scripts/setup, which starts dockerd --bridge=none "
                              "--iptables=false");
    auto image = sandbox::run({"docker", "image", "inspect", "--format", "{{.Id}}", "jobssh-vm"});
    BOOST_TEST_REQUIRE(image.exit_code == 0,
                       "the VM image jobssh-vm is missing; run scripts/build-vm-image");
}

// A VM takes a moment to boot; ssh is retried (bounded) while its sshd is not listening.
run_result ssh_when_up(const sandbox& world, std::int64_t job, const std::string& command) {
    auto until = std::chrono::steady_clock::now() + 60s;
    for (;;) {
        auto r = sandbox::run(world.vm_ssh_argv(job, command), std::nullopt, 30s);
        if (r.exit_code != 255 || std::chrono::steady_clock::now() > until)
            return r;
        std::this_thread::sleep_for(200ms);
    }
}

bool container_exists(const std::string& name) {
    auto r = sandbox::run({"docker", "ps", "--all", "--quiet", "--filter", "name=^/" + name + "$"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, "docker ps failed: " << r.err);
    return !r.out.empty();
}

struct docker_fixture {
    docker_fixture() { require_docker_and_image(); }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(docker_vms, docker_fixture)

BOOST_AUTO_TEST_CASE(a_started_vm_lets_the_runner_host_key_in_and_runs_hostname) {
    sandbox world(with_vms());
    BOOST_TEST_REQUIRE(world.vm_kind() == "docker");
    world.add_job(R"({"id": 21, "owner": "alice", "owner_id": 1, "shell": true})");
    auto r = ssh_when_up(world, 21, "hostname; id -un; echo $SHELL");
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(r.out == "jobssh-vm-21\nbuild\n/bin/bash\n");
    BOOST_TEST(world.vm_running(21));
    BOOST_TEST(container_exists(world.vm_name(21)));
}

BOOST_AUTO_TEST_CASE(the_vm_presents_the_reported_host_key_unless_told_not_to) {
    sandbox world(with_vms());
    world.add_job(R"({"id": 22, "owner": "alice", "owner_id": 1, "shell": true})");
    world.add_job(R"({"id": 23, "owner": "alice", "owner_id": 1, "shell": true,
                      "wrong_host_key": true})");
    for (auto job : {22, 23}) {
        BOOST_TEST_REQUIRE(ssh_when_up(world, job, "true").exit_code == 0);
        auto scan = sandbox::run({"ssh-keyscan", "-t", "ed25519", "-p",
                                  std::to_string(world.vm_port(job)), "127.0.0.1"});
        BOOST_TEST_REQUIRE(scan.exit_code == 0, scan.err);
        auto reported = world.vm_host_key(job);
        BOOST_TEST_REQUIRE(reported.starts_with("ssh-ed25519 AAAA"));
        bool presented = scan.out.find(reported) != std::string::npos;
        BOOST_TEST(presented == (job == 22), "job " << job << " presented " << scan.out);
    }
    auto info = world.job_info_json(22);
    BOOST_TEST(info.find("\"host_keys\":[\"" + world.vm_host_key(22) + "\"]") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(terminate_and_cancel_remove_the_container) {
    sandbox world(with_vms());
    world.add_job(R"({"id": 24, "owner": "alice", "owner_id": 1, "shell": true})");
    world.add_job(R"({"id": 25, "owner": "alice", "owner_id": 1, "shell": true})");
    for (auto job : {24, 25})
        BOOST_TEST_REQUIRE(ssh_when_up(world, job, "true").exit_code == 0);
    auto terminated = world.vm_name(24), cancelled = world.vm_name(25);
    BOOST_TEST(world.runner_http("POST", "/job/24/terminate").status == 200u);
    BOOST_TEST(world.runner_http("POST", "/job/25/cancel").status == 200u);
    BOOST_TEST(!container_exists(terminated));
    BOOST_TEST(!container_exists(cancelled));
    BOOST_TEST(!world.vm_running(24));
    BOOST_TEST(world.job_info_json(24).find("\"status\":\"success\"") != std::string::npos);
    BOOST_TEST(world.job_info_json(25).find("\"status\":\"cancelled\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_deadline_removes_the_container) {
    sandbox world(with_vms());
    world.add_job(R"({"id": 26, "owner": "alice", "owner_id": 1, "shell": true,
                      "deadline_s": 8})");
    auto name = world.vm_name(26);
    auto until = std::chrono::steady_clock::now() + 60s;
    while (!container_exists(name) && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(100ms);
    BOOST_TEST_REQUIRE(container_exists(name), "the VM never started");
    while (container_exists(name) && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(200ms);
    BOOST_TEST(!container_exists(name));
    BOOST_TEST(world.job_info_json(26).find("\"status\":\"success\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(nothing_of_a_sandbox_is_left_after_it_ends) {
    std::string name;
    fs::path dir;
    {
        sandbox world(with_vms(true));
        world.add_job(R"({"id": 27, "owner": "alice", "owner_id": 1, "shell": true})");
        BOOST_TEST_REQUIRE(ssh_when_up(world, 27, "true").exit_code == 0);
        name = world.vm_name(27);
        dir = world.dir();
    }
    BOOST_TEST(!container_exists(name));
    BOOST_TEST(!fs::exists(dir));
    auto ps = sandbox::run({"ps", "-eo", "args"});
    BOOST_TEST(ps.out.find(dir.string()) == std::string::npos, ps.out);
}

BOOST_AUTO_TEST_CASE(jobssh_sandbox_prints_what_to_try_runs_alone_and_cleans_up_on_sigterm) {
    jobssh::testing::scratch_dir scratch;
    auto jobs = scratch.write("jobs.json", R"({"jobs": [{"id": 41, "owner": "alice",
                                                          "owner_id": 1, "shell": true}]})");
    auto lock = "JOBSSH_SANDBOX_LOCK=" + (scratch.path() / "sandbox.lock").string();
    std::vector<std::string> argv = {
        JOBSSH_BINARY_DIR "/fixtures/jobssh-sandbox", "--jobs", jobs.string(), "--users",
        (fs::path(JOBSSH_SOURCE_DIR) / "fixtures/data/users.json").string()};

    boost::asio::io_context ctx;
    jobssh::fixtures::background_process first(ctx, argv, fs::path(), {lock});
    auto said = first.read_until("Press Ctrl-C", 120s);
    BOOST_TEST(said.find("JOBSSH_CONFIG=/") != std::string::npos, said);
    BOOST_TEST(said.find("builds@127.0.0.1 tail 41") != std::string::npos, said);
    BOOST_TEST(said.find("-t -i ") != std::string::npos, said);
    BOOST_TEST(said.find("builds@127.0.0.1 connect 41") != std::string::npos, said);
    auto from = said.find("JOBSSH_CONFIG=") + 14;
    fs::path config = said.substr(from, said.find('\n', from) - from);
    BOOST_TEST_REQUIRE(fs::exists(config));
    auto dir = config.parent_path();
    auto container = "jobssh-vm-" + dir.filename().string().substr(15) + "-41";
    auto until = std::chrono::steady_clock::now() + 60s;
    while (!container_exists(container) && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(100ms);
    BOOST_TEST(container_exists(container));

    auto second = jobssh::fixtures::run_blocking(argv, std::nullopt, 60s, {lock});
    BOOST_TEST(second.exit_code == 75);
    BOOST_TEST(second.err.find("another sandbox is running") != std::string::npos, second.err);

    BOOST_TEST(first.stop(60s) == 0);
    BOOST_TEST(!container_exists(container));
    BOOST_TEST(!fs::exists(dir));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(without_docker)

BOOST_AUTO_TEST_CASE(a_vm_falls_back_to_the_host_sshd_as_a_plain_process) {
    auto options = with_vms();
    options.docker = false;
    sandbox world(options);
    BOOST_TEST_REQUIRE(world.vm_kind() == "process");
    world.add_job(R"({"id": 31, "owner": "alice", "owner_id": 1, "shell": true})");
    auto r = ssh_when_up(world, 31, "id -un");
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(r.out == world.vm_user() + "\n");
    BOOST_TEST(world.runner_http("POST", "/job/31/terminate").status == 200u);
    BOOST_TEST(!world.vm_running(31));
    BOOST_TEST(sandbox::run(world.vm_ssh_argv(31, "true")).exit_code == 255);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(front_sshd)

BOOST_AUTO_TEST_CASE(a_real_ssh_client_reaches_jobssh_shell_through_the_front_sshd) {
    sandbox world(with_vms(true));
    BOOST_TEST_REQUIRE(world.sshd_port() != 0);
    auto r = sandbox::run(world.ssh_argv("alice", "help"), std::nullopt, 60s);
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(r.out.find("tail") != std::string::npos, r.out);
    BOOST_TEST(r.out.find("connect") != std::string::npos, r.out);
}

BOOST_AUTO_TEST_SUITE_END()
