#pragma once

// The world an end-to-end test runs in: the jobs and users its file describes, written to a
// scratch directory, and a sandbox (fake runner and meta; a front sshd and Docker VMs unless
// the options say otherwise) started on them. A file whose tests leave the world as they found
// it shares one for the whole module (JOBSSH_MODULE_WORLD); a test that changes it makes its
// own.

#include "sandbox.hpp"
#include "scratch_dir.hpp"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <jobssh/common/config.hpp>
#include <jobssh/connect/session_registry.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jobssh::testing {

// What every end-to-end file names, for its `using namespace jobssh::testing;`.
namespace fs = std::filesystem;
using fixtures::run_result;
using fixtures::sandbox;
using fixtures::sandbox_options;
using namespace std::chrono_literals;

// The users most worlds have: alice (id 1) and bob (id 2), each with a key meta knows.
inline constexpr std::string_view alice_and_bob =
    R"({"users": [{"name": "alice", "id": 1}, {"name": "bob", "id": 2}]})";
// alice alone, for worlds whose jobs are all hers.
inline constexpr std::string_view alice_alone = R"({"users": [{"name": "alice", "id": 1}]})";

struct sandbox_world {
    // The sandbox's options are the defaults, with jobs_file and users_file the two files
    // written here, as `adjust` leaves them.
    sandbox_world(
        std::string_view jobs_json, std::string_view users_json,
        const std::function<void(sandbox_options&)>& adjust = [](auto&) {}) {
        sandbox_options options;
        options.jobs_file = scratch.write("jobs.json", jobs_json);
        options.users_file = scratch.write("users.json", users_json);
        adjust(options);
        box = std::make_unique<sandbox>(options);
    }

    scratch_dir scratch;
    // After `scratch`: the sandbox stops before its files are removed.
    std::unique_ptr<sandbox> box;
};

// jobssh-shell run directly against the runner and meta: no front sshd, no VMs, and short
// HTTP timeouts and polls, so that faults show quickly; `cfg` is the configuration the shell
// reads, for the messages that name the operator.
struct shell_world : sandbox_world {
    shell_world(std::string_view jobs_json, std::string_view users_json)
        : sandbox_world(jobs_json, users_json, [](sandbox_options& options) {
            options.front_sshd = false;
            options.vms = false;
            options.http_timeout = 1000ms;
            options.poll_interval = 100ms;
        }) {}

    jobssh::config cfg = jobssh::load_config(box->config_file());
};

// The options of the fixtures' own tests: the sample users of fixtures/data/users.json, no
// jobs until a test adds them, VMs and a front sshd as asked.
inline sandbox_options sample_users(bool vms, bool front_sshd) {
    sandbox_options options;
    options.users_file = fs::path(JOBSSH_SOURCE_DIR) / "fixtures/data/users.json";
    options.vms = vms;
    options.front_sshd = front_sshd;
    return options;
}

// How many of the runner's requests so far were `request` ("POST /job/3/terminate").
inline std::size_t times_asked(const sandbox& box, const std::string& request) {
    auto requests = box.runner_requests();
    return static_cast<std::size_t>(std::count(requests.begin(), requests.end(), request));
}

// The sessions of `job` that count in the sandbox's state-dir.
inline std::size_t live_sessions_of(const sandbox& box, std::int64_t job) {
    return jobssh::live_sessions(box.state_dir(), job);
}

// The connections that logged in, in an sshd's log: it says "Accepted publickey for build
// from 127.0.0.1 port N" once per handshake, never per session channel.
inline std::size_t logins_in(std::string_view sshd_log) {
    constexpr std::string_view accepted = "Accepted publickey for";
    std::size_t count = 0;
    for (auto at = sshd_log.find(accepted); at != std::string_view::npos;
         at = sshd_log.find(accepted, at + 1))
        ++count;
    return count;
}

// The last line of the messages of failures the user cannot fix alone.
inline std::string support_line(const jobssh::config& cfg) {
    return "Please reach out to " + cfg.owner_name + " <" + cfg.owner_email + "> for support.\n";
}

// One World for the whole test module: made (from `args`) before the first test, gone after
// the last; get() reaches it. JOBSSH_MODULE_WORLD makes it a Boost.Test global
// fixture.
template <class World>
class module_world {
public:
    template <class... Args>
    explicit module_world(Args&&... args) {
        slot() = std::make_unique<World>(std::forward<Args>(args)...);
    }
    ~module_world() { slot().reset(); }

    static World& get() { return *slot(); }

private:
    static std::unique_ptr<World>& slot() {
        static std::unique_ptr<World> world;
        return world;
    }
};

} // namespace jobssh::testing

// JOBSSH_MODULE_WORLD(World, args...): one World(args...) for the module, reached from the
// tests with world(), and its sandbox (World's `box`) with box(). (BOOST_TEST_GLOBAL_FIXTURE
// names a variable after its argument, which cannot be a template.)
#define JOBSSH_MODULE_WORLD(World, ...)                                                            \
    struct World##_of_the_module : ::jobssh::testing::module_world<World> {                        \
        World##_of_the_module()                                                                    \
            : module_world(__VA_ARGS__) {}                                                         \
    };                                                                                             \
    namespace {                                                                                    \
    [[maybe_unused]] World& world() {                                                              \
        return World##_of_the_module::get();                                                       \
    }                                                                                              \
    [[maybe_unused]] ::jobssh::fixtures::sandbox& box() {                                          \
        return *world().box;                                                                       \
    }                                                                                              \
    }                                                                                              \
    BOOST_TEST_GLOBAL_FIXTURE(World##_of_the_module)
