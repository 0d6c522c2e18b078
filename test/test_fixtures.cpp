// The fixtures themselves: the fake runner speaks the worker's API byte for byte, runs
// simulated jobs (logs written as the job proceeds), and the fake meta answers key lookups.
// No VMs here (test_fixtures_vm.cpp has them).

#define BOOST_TEST_MODULE fixtures
#include "sandbox.hpp"
#include "scratch_dir.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;
namespace json = boost::json;
using jobssh::fixtures::sandbox;
using jobssh::fixtures::sandbox_options;
using namespace std::chrono_literals;

namespace {

sandbox_options without_vms() {
    sandbox_options o;
    o.users_file = fs::path(JOBSSH_SOURCE_DIR) / "fixtures/data/users.json";
    o.front_sshd = false;
    o.vms = false;
    return o;
}

std::string read_file(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

json::object info_of(const sandbox& world, std::int64_t job) {
    return json::parse(world.job_info_json(job)).as_object();
}

// Waits (bounded) until the job's status is no longer "running".
json::object wait_until_finished(const sandbox& world, std::int64_t job) {
    auto until = std::chrono::steady_clock::now() + 60s;
    for (;;) {
        auto info = info_of(world, job);
        if (info.at("status").as_string() != "running" || std::chrono::steady_clock::now() > until)
            return info;
        std::this_thread::sleep_for(50ms);
    }
}

struct fixture {
    sandbox world{without_vms()};
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(fake_runner, fixture)

BOOST_AUTO_TEST_CASE(info_has_the_worker_fields_in_its_order_and_the_optional_ones) {
    auto id = world.add_job(R"({"id": 7, "owner": "alice", "owner_id": 1, "manifest": "image: x",
                               "note": "n", "tasks": [{"name": "a"}, {"name": "b"}],
                               "manual": true})");
    BOOST_TEST(id == 7);
    auto reply = world.runner_http("GET", "/job/7/info");
    BOOST_TEST(reply.status == 200u);
    BOOST_TEST(reply.content_type == "application/json");
    auto info = json::parse(reply.body).as_object();
    std::vector<std::string> keys;
    for (const auto& kv : info)
        keys.emplace_back(kv.key());
    std::vector<std::string> expected = {"deadline", "manifest", "note",    "owner_id",
                                         "port",     "status",   "task",    "tasks",
                                         "username", "ssh_user", "ssh_host"};
    BOOST_TEST(keys == expected, boost::test_tools::per_element());
    BOOST_TEST(info.at("manifest").as_string() == "image: x");
    BOOST_TEST(info.at("note").as_string() == "n");
    BOOST_TEST(info.at("owner_id").as_int64() == 1);
    BOOST_TEST(info.at("status").as_string() == "running");
    BOOST_TEST(info.at("task").as_int64() == 0);
    BOOST_TEST(info.at("tasks").as_int64() == 2);
    BOOST_TEST(info.at("username").as_string() == "alice");
    BOOST_TEST(info.at("ssh_user").as_string() == "build");
    BOOST_TEST(info.at("ssh_host").as_string() == "localhost");
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    BOOST_TEST(info.at("deadline").as_int64() > now + 14000);
}

BOOST_AUTO_TEST_CASE(an_unknown_job_or_path_gets_404_not_found) {
    for (auto target :
         {"/job/999/info", "/job/999/claim", "/job/abc/info", "/job/1/frobnicate", "/", "/jobs"}) {
        auto method = std::string_view(target).ends_with("claim") ? "POST" : "GET";
        auto reply = world.runner_http(method, target);
        BOOST_TEST_CONTEXT(target) {
            BOOST_TEST(reply.status == 404u);
            BOOST_TEST(reply.body == "404 not found");
        }
    }
}

BOOST_AUTO_TEST_CASE(the_wrong_method_gets_405) {
    world.add_job(R"({"id": 3, "owner": "alice", "owner_id": 1, "manual": true})");
    for (auto [method, target] :
         {std::pair{"POST", "/job/3/info"}, std::pair{"GET", "/job/3/claim"},
          std::pair{"GET", "/job/3/terminate"}, std::pair{"PUT", "/job/3/cancel"}}) {
        BOOST_TEST_CONTEXT(method << " " << target) {
            auto reply = world.runner_http(method, target);
            BOOST_TEST(reply.status == 405u);
            BOOST_TEST(reply.body == "405 method not allowed");
        }
    }
}

BOOST_AUTO_TEST_CASE(claim_says_claimed_and_cancel_says_cancelled_and_cancels) {
    world.add_job(R"({"id": 4, "owner": "alice", "owner_id": 1, "manual": true})");
    auto claim = world.runner_http("POST", "/job/4/claim");
    BOOST_TEST(claim.status == 200u);
    BOOST_TEST(claim.body == "claimed");
    auto cancel = world.runner_http("POST", "/job/4/cancel");
    BOOST_TEST(cancel.status == 200u);
    BOOST_TEST(cancel.body == "cancelled");
    BOOST_TEST(info_of(world, 4).at("status").as_string() == "cancelled");
}

BOOST_AUTO_TEST_CASE(every_api_request_is_recorded_in_order_and_control_requests_are_not) {
    world.add_job(R"({"id": 5, "owner": "alice", "owner_id": 1, "manual": true})");
    world.runner_http("GET", "/job/5/info");
    world.runner_http("POST", "/job/5/claim");
    world.runner_http("POST", "/job/5/terminate");
    world.set_job(5, R"({"status": "success"})");
    std::vector<std::string> expected = {"GET /job/5/info", "POST /job/5/claim",
                                         "POST /job/5/terminate"};
    auto seen = world.runner_requests();
    BOOST_TEST(seen == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_job_writes_its_logs_as_it_proceeds_and_ends_in_its_result) {
    world.add_job(R"({"id": 11, "owner": "alice", "owner_id": 1, "pace_ms": 300,
                      "log": ["boot 1", "boot 2", "boot 3"],
                      "tasks": [{"name": "build", "log": ["b1", "b2"]},
                                {"name": "test", "log": ["t1 ✓"]}],
                      "result": "failed"})");
    auto job_dir = world.buildlogs() / "11";
    // Part way: the job log has begun, the last task has not started.
    auto until = std::chrono::steady_clock::now() + 30s;
    while (read_file(job_dir / "log").find("boot 1\n") == std::string::npos &&
           std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(10ms);
    BOOST_TEST(read_file(job_dir / "log").starts_with("boot 1\n"));
    BOOST_TEST(!fs::exists(job_dir / "test"));
    BOOST_TEST(info_of(world, 11).at("status").as_string() == "running");

    auto info = wait_until_finished(world, 11);
    BOOST_TEST(info.at("status").as_string() == "failed");
    BOOST_TEST(info.at("task").as_int64() == 2);
    BOOST_TEST(info.at("tasks").as_int64() == 2);
    BOOST_TEST(read_file(job_dir / "log") == "boot 1\nboot 2\nboot 3\n");
    BOOST_TEST(read_file(job_dir / "build" / "log") == "b1\nb2\n");
    BOOST_TEST(read_file(job_dir / "test" / "log") == "t1 ✓\n");
}

BOOST_AUTO_TEST_CASE(a_manual_job_writes_nothing_and_takes_its_state_from_the_test) {
    world.add_job(R"({"id": 12, "owner": "bob", "owner_id": 2, "manual": true,
                      "tasks": [{"name": "only", "log": ["never written"]}]})");
    world.set_job(12, R"({"task": 1, "status": "success"})");
    auto info = info_of(world, 12);
    BOOST_TEST(info.at("status").as_string() == "success");
    BOOST_TEST(info.at("task").as_int64() == 1);
    BOOST_TEST(!fs::exists(world.buildlogs() / "12"));
}

BOOST_AUTO_TEST_CASE(a_job_past_its_deadline_times_out) {
    world.add_job(R"({"id": 13, "owner": "alice", "owner_id": 1, "pace_ms": 60000,
                      "log": ["slow"], "deadline_s": 1})");
    auto info = wait_until_finished(world, 13);
    BOOST_TEST(info.at("status").as_string() == "timeout");
}

BOOST_AUTO_TEST_CASE(a_malformed_job_is_refused_with_a_message_naming_the_field) {
    BOOST_CHECK_EXCEPTION(world.add_job(R"({"id": 14, "owner": "alice", "owner_id": 1,
                                            "pase_ms": 3})"),
                          std::invalid_argument, [](const std::invalid_argument& e) {
                              return std::string(e.what()).find("pase_ms") != std::string::npos;
                          });
    BOOST_CHECK_THROW(world.add_job(R"({"id": 15, "owner": "alice", "owner_id": 1,
                                        "tasks": [{"name": "../escape"}]})"),
                      std::invalid_argument);
    BOOST_CHECK_THROW(world.add_job("not json"), std::invalid_argument);
    BOOST_TEST(world.runner_http("GET", "/job/14/info").status == 404u);
}

BOOST_AUTO_TEST_CASE(an_injected_fault_replaces_the_answer_until_cleared) {
    world.add_job(R"({"id": 16, "owner": "alice", "owner_id": 1, "manual": true})");
    world.runner_fault(
        R"({"status": 200, "body": "{not json", "content_type": "application/json"})");
    BOOST_TEST(world.runner_http("GET", "/job/16/info").body == "{not json");
    world.runner_fault("{}");
    BOOST_TEST(world.runner_http("GET", "/job/16/info").body.starts_with("{\"deadline\""));
}

BOOST_AUTO_TEST_CASE(a_fault_can_be_limited_to_one_endpoint) {
    world.add_job(R"({"id": 17, "owner": "alice", "owner_id": 1, "manual": true})");
    world.runner_fault(R"({"status": 503, "body": "down", "match": "POST /job/17/terminate"})");
    BOOST_TEST(world.runner_http("GET", "/job/17/info").status == 200u);
    auto terminate = world.runner_http("POST", "/job/17/terminate");
    BOOST_TEST(terminate.status == 503u);
    BOOST_TEST(terminate.body == "down");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(bad_data_files)

BOOST_AUTO_TEST_CASE(a_bad_jobs_file_stops_the_sandbox_with_the_runner_s_message) {
    jobssh::testing::scratch_dir scratch;
    auto options = without_vms();
    options.jobs_file = scratch.write("jobs.json", R"({"jobs": [{"id": 1, "owner": "alice"}]})");
    BOOST_CHECK_EXCEPTION(sandbox{options}, std::runtime_error, [](const std::runtime_error& e) {
        return std::string(e.what()).find("owner_id") != std::string::npos;
    });
}

BOOST_AUTO_TEST_CASE(a_bad_users_file_stops_the_sandbox_naming_the_file) {
    jobssh::testing::scratch_dir scratch;
    auto options = without_vms();
    options.users_file = scratch.write("users.json", R"({"users": [{"name": "alice"}]})");
    BOOST_CHECK_EXCEPTION(sandbox{options}, std::runtime_error, [&](const std::runtime_error& e) {
        return std::string(e.what()).find(options.users_file.string()) != std::string::npos;
    });
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(fake_meta, fixture)

BOOST_AUTO_TEST_CASE(a_known_key_is_answered_with_its_owner) {
    auto reply = world.meta_http("GET", "/api/ssh-key/" + world.public_key_b64("bob"));
    BOOST_TEST(reply.status == 200u);
    BOOST_TEST(reply.content_type == "application/json");
    auto key = json::parse(reply.body).as_object();
    for (auto field : {"id", "authorized", "comment", "fingerprint", "key", "owner"})
        BOOST_TEST(key.contains(field), field);
    BOOST_TEST(key.at("owner").at("name").as_string() == "bob");
    BOOST_TEST(key.at("owner").at("canonical_name").as_string() == "~bob");
    BOOST_TEST(std::string(key.at("key").as_string()).find(world.public_key_b64("bob")) !=
               std::string::npos);
    BOOST_TEST(std::string(key.at("fingerprint").as_string()).starts_with("SHA256:"));
}

BOOST_AUTO_TEST_CASE(a_percent_encoded_key_is_found_too) {
    std::string encoded;
    for (char c : world.public_key_b64("alice")) {
        if (c == '+' || c == '/' || c == '=') {
            char hex[4];
            std::snprintf(hex, sizeof hex, "%%%02X", static_cast<unsigned char>(c));
            encoded += hex;
        } else {
            encoded += c;
        }
    }
    auto reply = world.meta_http("GET", "/api/ssh-key/" + encoded);
    BOOST_TEST(reply.status == 200u);
    BOOST_TEST(json::parse(reply.body).at("owner").at("name").as_string() == "alice");
}

BOOST_AUTO_TEST_CASE(an_unknown_key_gets_404_and_every_lookup_is_recorded) {
    auto reply = world.meta_http("GET", "/api/ssh-key/" + world.public_key_b64("stranger"));
    BOOST_TEST(reply.status == 404u);
    auto seen = world.meta_requests();
    BOOST_TEST_REQUIRE(seen.size() == 1u);
    BOOST_TEST(seen[0] == "GET /api/ssh-key/" + world.public_key_b64("stranger"));
}

BOOST_AUTO_TEST_CASE(a_stopped_meta_or_runner_refuses_connections) {
    world.stop_meta();
    BOOST_CHECK_THROW(world.meta_http("GET", "/api/ssh-key/x"), std::runtime_error);
    world.stop_runner();
    BOOST_CHECK_THROW(world.runner_http("GET", "/job/1/info"), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(config_points_jobssh_at_the_fixtures) {
    auto ini = read_file(world.config_file());
    BOOST_TEST(ini.find("bind-address = 127.0.0.1:" + std::to_string(world.runner_port())) !=
               std::string::npos);
    BOOST_TEST(ini.find("internal-origin = http://127.0.0.1:" +
                        std::to_string(world.meta_port())) != std::string::npos);
    BOOST_TEST(ini.find("buildlogs = " + world.buildlogs().string()) != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
