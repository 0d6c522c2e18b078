#include <algorithm>
#include <cerrno>
#include <ctime>
#include <fcntl.h>
#include <jobssh/common/config.hpp>
#include <jobssh/common/posix.hpp>
#include <jobssh/recording/session_files.hpp>
#include <sys/file.h>
#include <system_error>

namespace jobssh {

namespace fs = std::filesystem;

std::string session_file_name(std::chrono::system_clock::time_point start, std::string_view user,
                              int pid) {
    std::time_t seconds = std::chrono::system_clock::to_time_t(start);
    std::tm utc{};
    ::gmtime_r(&seconds, &utc);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
    return std::string(stamp) + "-" + std::string(user) + "-" + std::to_string(pid) + ".cast";
}

fs::path recordings_dir(const config& cfg, job_id job) {
    return cfg.recordings / std::to_string(job);
}

fs::path live_dir(const config& cfg, job_id job) {
    return cfg.state_dir / "live" / std::to_string(job);
}

namespace {

// The start and user that session_file_name wrote; nullopt for other files.
std::optional<session_file> parse_name(const fs::path& path) {
    std::string name = path.filename().string();
    if (!name.ends_with(".cast") || name.size() < 17 + 5 || name.starts_with("."))
        return std::nullopt;
    std::tm utc{};
    const char* end = ::strptime(name.c_str(), "%Y%m%dT%H%M%SZ-", &utc);
    if (!end)
        return std::nullopt;
    std::string rest(end, name.size() - static_cast<std::size_t>(end - name.c_str()) - 5);
    auto dash = rest.rfind('-');
    if (dash == std::string::npos || dash == 0)
        return std::nullopt;
    session_file file;
    file.path = path;
    file.user = rest.substr(0, dash);
    file.start = std::chrono::system_clock::from_time_t(::timegm(&utc));
    return file;
}

std::vector<session_file> files_in(const fs::path& dir) {
    std::vector<session_file> files;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (auto file = parse_name(it->path()))
            files.push_back(std::move(*file));
    std::sort(files.begin(), files.end(),
              [](const auto& a, const auto& b) { return a.path.filename() < b.path.filename(); });
    return files;
}

} // namespace

std::vector<session_file> job_recordings(const config& cfg, job_id job) {
    if (cfg.recordings.empty())
        return {};
    return files_in(recordings_dir(cfg, job));
}

bool session_running(int fd) {
    if (::flock(fd, LOCK_SH | LOCK_NB) == 0) {
        ::flock(fd, LOCK_UN);
        return false;
    }
    return errno == EWOULDBLOCK;
}

std::vector<session_file> live_sessions(const config& cfg, job_id job) {
    std::vector<session_file> live;
    for (auto& file : files_in(live_dir(cfg, job))) {
        unique_fd fd(::open(file.path.c_str(), O_RDONLY | O_CLOEXEC));
        if (fd && session_running(fd.get())) {
            live.push_back(std::move(file));
            continue;
        }
        std::error_code ignored;
        fs::remove(file.path, ignored); // a killed session's, or a link to a removed file
    }
    if (live.empty())
        remove_empty_live_dirs(cfg, job);
    return live;
}

void remove_empty_live_dirs(const config& cfg, job_id job) {
    // A remove fails on a directory that is not empty, as it should.
    std::error_code ignored;
    fs::remove(live_dir(cfg, job), ignored);
    fs::remove(live_dir(cfg, job).parent_path(), ignored);
}

std::string utc_minute(std::chrono::system_clock::time_point when) {
    std::time_t seconds = std::chrono::system_clock::to_time_t(when);
    std::tm utc{};
    ::gmtime_r(&seconds, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M UTC", &utc);
    return text;
}

} // namespace jobssh
