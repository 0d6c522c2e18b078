#pragma once

// The one sandbox an end-to-end test module shares (starting VMs is the slow part):
// its jobs and users written to a scratch directory, the options adjusted by the module.
//
//   JOBSSH_E2E_WORLD(jobs_json, users_json, [](sandbox_options& o) { o.recordings = true; })
//   … box() is the sandbox, world_dir() the scratch directory.

#include "sandbox.hpp"
#include "scratch_dir.hpp"

#include <boost/test/unit_test.hpp>
#include <functional>
#include <memory>
#include <string>

namespace jobssh::testing {

class e2e_world {
public:
    e2e_world(const std::string& jobs_json, const std::string& users_json,
              const std::function<void(fixtures::sandbox_options&)>& adjust = {}) {
        fixtures::sandbox_options options;
        options.jobs_file = data_.write("jobs.json", jobs_json);
        options.users_file = data_.write("users.json", users_json);
        if (adjust)
            adjust(options);
        box_ = std::make_unique<fixtures::sandbox>(options);
    }
    ~e2e_world() { box_.reset(); } // before the scratch directory goes

    fixtures::sandbox& box() { return *box_; }
    const std::filesystem::path& dir() const { return data_.path(); }

    static inline e2e_world* instance = nullptr;

private:
    scratch_dir data_;
    std::unique_ptr<fixtures::sandbox> box_;
};

} // namespace jobssh::testing

// One world for the test module, made before its first test and removed after its last.
#define JOBSSH_E2E_WORLD(...)                                                                      \
    namespace {                                                                                    \
    struct e2e_world_fixture {                                                                     \
        e2e_world_fixture() {                                                                      \
            jobssh::testing::e2e_world::instance = new jobssh::testing::e2e_world(__VA_ARGS__);    \
        }                                                                                          \
        ~e2e_world_fixture() { delete jobssh::testing::e2e_world::instance; }                      \
    };                                                                                             \
    BOOST_TEST_GLOBAL_FIXTURE(e2e_world_fixture);                                                  \
    [[maybe_unused]] jobssh::fixtures::sandbox& box() {                                            \
        return jobssh::testing::e2e_world::instance->box();                                        \
    }                                                                                              \
    [[maybe_unused]] const std::filesystem::path& world_dir() {                                    \
        return jobssh::testing::e2e_world::instance->dir();                                        \
    }                                                                                              \
    }
