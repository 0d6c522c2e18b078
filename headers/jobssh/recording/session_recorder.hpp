#pragma once

// What an interactive session shows, kept for later (`replay`, [jobssh] recordings) and for
// now (`watch`, [jobssh] watch): one asciicast file, written as the session goes, that
// watchers follow. Given to connect as the session's screen observer.

#include <chrono>
#include <filesystem>
#include <jobssh/common/job_id.hpp>
#include <jobssh/connect/relay.hpp>
#include <memory>
#include <optional>
#include <string>

namespace jobssh {

struct config;
class asciicast_writer;

class session_recorder final : public screen_observer {
public:
    // Nothing is written before begin().
    session_recorder(const config& cfg, job_id job, std::string user);
    // The file is synced, its live entry removed, its lock released: watchers see the end.
    ~session_recorder() override;
    session_recorder(const session_recorder&) = delete;
    session_recorder& operator=(const session_recorder&) = delete;

    void begin(window_size size) override;
    void output(std::string_view bytes) override;
    void input(std::string_view keys) override;
    void resize(window_size size) override;
    std::string banner_note() const override;

    // The session's recording (empty when it is not recorded, or could not be).
    const std::filesystem::path& recording() const { return recording_; }

private:
    void stopped_if_failed();

    const config& cfg_;
    job_id job_;
    std::string user_;
    std::unique_ptr<asciicast_writer> writer_;
    std::filesystem::path recording_;
    std::filesystem::path live_entry_;
    bool told_ = false;
};

// Whether `cfg` wants interactive sessions recorded or watchable at all.
bool sessions_observed(const config& cfg);

} // namespace jobssh
