#pragma once

// The world an end-to-end test runs in: the jobs and users its file describes, written to a
// scratch directory, and a sandbox (fake runner and meta; a front sshd and Docker VMs unless
// the options say otherwise) started on them. A file whose tests leave the world as they found
// it shares one for the whole module (JOBSSH_MODULE_WORLD); a test that changes it makes its
// own.

#include "sandbox.hpp"
#include "scratch_dir.hpp"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace jobssh::testing {

// What every end-to-end file names, for its `using namespace jobssh::testing;`.
namespace fs = std::filesystem;
using fixtures::run_result;
using fixtures::sandbox;
using fixtures::sandbox_options;
using namespace std::chrono_literals;

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
// HTTP timeouts and polls, so that faults show quickly.
inline void shell_against_runner_and_meta(sandbox_options& options) {
    options.front_sshd = false;
    options.vms = false;
    options.http_timeout = 1000ms;
    options.poll_interval = 100ms;
}

// One World for the whole test module: made before the first test, gone after the last (a
// Boost.Test global fixture; module_world<World>::get() reaches it from the tests).
template <class World>
class module_world {
public:
    module_world() { slot() = std::make_unique<World>(); }
    ~module_world() { slot().reset(); }

    static World& get() { return *slot(); }

private:
    static std::unique_ptr<World>& slot() {
        static std::unique_ptr<World> world;
        return world;
    }
};

} // namespace jobssh::testing

// BOOST_TEST_GLOBAL_FIXTURE names a variable after its argument, which cannot be a template.
#define JOBSSH_MODULE_WORLD(World)                                                                 \
    using World##_of_the_module = ::jobssh::testing::module_world<World>;                          \
    BOOST_TEST_GLOBAL_FIXTURE(World##_of_the_module)
