#pragma once

// One sandbox for a whole end-to-end test module (starting VMs is the slow part), made by
// Boost.Test's global fixture from data files the module names, and reached by its cases
// through world_box().

#include "sandbox.hpp"
#include "scratch_dir.hpp"

#include <functional>
#include <memory>
#include <stdexcept>

namespace jobssh::testing {

class sandbox_world {
public:
    // `configure` sets the options up; the files it writes into `data` (jobs, users) live
    // as long as the sandbox.
    explicit sandbox_world(
        const std::function<void(fixtures::sandbox_options&, const scratch_dir& data)>& configure) {
        fixtures::sandbox_options options;
        configure(options, data_);
        box_ = std::make_unique<fixtures::sandbox>(std::move(options));
        current_ = this;
    }
    ~sandbox_world() {
        current_ = nullptr;
        box_.reset();
    }
    sandbox_world(const sandbox_world&) = delete;
    sandbox_world& operator=(const sandbox_world&) = delete;

    static fixtures::sandbox& box() {
        if (!current_)
            throw std::logic_error("no sandbox_world: declare it as the global fixture");
        return *current_->box_;
    }

private:
    scratch_dir data_;
    std::unique_ptr<fixtures::sandbox> box_;
    static inline sandbox_world* current_ = nullptr;
};

} // namespace jobssh::testing
