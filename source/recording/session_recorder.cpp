#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <jobssh/common/config.hpp>
#include <jobssh/common/posix.hpp>
#include <jobssh/common/syslog.hpp>
#include <jobssh/common/user_output.hpp>
#include <jobssh/recording/asciicast.hpp>
#include <jobssh/recording/session_files.hpp>
#include <jobssh/recording/session_recorder.hpp>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace jobssh {

namespace fs = std::filesystem;

namespace {

// Directories only their owner (the login user every session runs as) can enter: other
// users of the host read no one's screens.
void make_private_dir(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
        throw std::system_error(ec, "cannot create " + dir.string());
    ::chmod(dir.c_str(), 0700);
}

unique_fd create_private(const fs::path& path) {
    unique_fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600));
    if (!fd)
        throw std::system_error(errno, std::generic_category(), "cannot create " + path.string());
    // Held as long as the session runs: watchers learn from it that the session is live.
    if (::flock(fd.get(), LOCK_EX) != 0)
        throw std::system_error(errno, std::generic_category(), "cannot lock " + path.string());
    return fd;
}

// The live directories are removed by the last session that leaves them empty
// (remove_empty_live_dirs), maybe between their making here and the entry made in them: then
// made again.
template <class MakeEntry>
void make_in_live_dir(const fs::path& dir, MakeEntry make_entry) {
    for (int attempt = 1;; ++attempt) {
        try {
            make_private_dir(dir);
            ::chmod(dir.parent_path().c_str(), 0700);
            make_entry();
            return;
        } catch (const std::system_error& e) {
            if (e.code() != std::errc::no_such_file_or_directory || attempt == 3)
                throw;
        }
    }
}

} // namespace

bool sessions_observed(const config& cfg) {
    return !cfg.recordings.empty() || cfg.watch;
}

session_recorder::session_recorder(const config& cfg, job_id job, std::string user)
    : cfg_(cfg)
    , job_(job)
    , user_(std::move(user)) {}

session_recorder::~session_recorder() {
    if (!live_entry_.empty()) {
        std::error_code ignored;
        fs::remove(live_entry_, ignored);
        remove_empty_live_dirs(cfg_, job_);
    }
    if (writer_)
        writer_->sync();
}

void session_recorder::begin(window_size size) {
    auto now = std::chrono::system_clock::now();
    auto start = std::chrono::steady_clock::now();
    std::string name = session_file_name(now, user_, ::getpid());
    asciicast_header header;
    header.size = size;
    header.timestamp =
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    if (const char* term = std::getenv("TERM"))
        header.term = term;
    header.title = "build job #" + std::to_string(job_);

    unique_fd file;
    fs::path temporary;
    try {
        if (!cfg_.recordings.empty()) {
            make_private_dir(recordings_dir(cfg_, job_));
            recording_ = recordings_dir(cfg_, job_) / name;
            file = create_private(recording_);
        }
        if (cfg_.watch) {
            auto dir = live_dir(cfg_, job_);
            // Made under a name watchers skip, and renamed once locked: a watcher never
            // takes a session that is starting for one that ended.
            temporary = dir / ("." + name);
            make_in_live_dir(dir, [&] {
                if (file) {
                    if (::symlink(recording_.c_str(), temporary.c_str()) != 0)
                        throw std::system_error(errno, std::generic_category(), "symlink");
                } else {
                    file = create_private(temporary);
                }
            });
            fs::rename(temporary, dir / name);
            live_entry_ = dir / name;
        }
    } catch (const std::exception& e) {
        std::error_code ignored;
        if (!temporary.empty())
            fs::remove(temporary, ignored);
        log_error("job=" + std::to_string(job_) + " user=" + user_ +
                  " event=recording outcome=failed detail=\"" + e.what() + "\"");
        if (!file) {
            recording_.clear();
            return; // the session goes on, unrecorded
        }
    }
    writer_ = std::make_unique<asciicast_writer>(std::move(file), header, start);
    stopped_if_failed();
}

void session_recorder::output(std::string_view bytes) {
    if (!writer_)
        return;
    writer_->output(bytes);
    stopped_if_failed();
}

void session_recorder::input(std::string_view keys) {
    if (!writer_ || !cfg_.record_input)
        return;
    writer_->input(keys);
    stopped_if_failed();
}

void session_recorder::resize(window_size size) {
    if (!writer_)
        return;
    writer_->resize(size);
    stopped_if_failed();
}

std::string session_recorder::banner_note() const {
    return cfg_.recordings.empty() ? std::string() : "This session is recorded.\n";
}

// A full disk ends the recording, never the session: the user and the log are told once.
void session_recorder::stopped_if_failed() {
    if (told_ || !writer_ || writer_->error() == 0)
        return;
    told_ = true;
    std::string why = std::strerror(writer_->error());
    log_error("job=" + std::to_string(job_) + " user=" + user_ +
              " event=recording outcome=stopped detail=\"" + why + "\"");
    write_all(STDERR_FILENO,
              "\r\n[jobssh] This session is no longer recorded (" + why + "); it goes on.\r\n");
}

} // namespace jobssh
