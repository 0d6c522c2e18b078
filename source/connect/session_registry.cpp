#include <atomic>
#include <cerrno>
#include <fcntl.h>
#include <jobssh/common/posix.hpp>
#include <jobssh/connect/session_registry.hpp>
#include <string>
#include <sys/file.h>
#include <system_error>
#include <unistd.h>

namespace jobssh {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view session_prefix = "session-";

unique_fd open_file(const fs::path& path, int flags) {
    unique_fd fd(::open(path.c_str(), flags | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd)
        throw_errno("open " + path.string());
    return fd;
}

// The per-job lock that serializes joining and leaving.
class job_lock {
public:
    explicit job_lock(const fs::path& job_dir)
        : fd_(open_file(job_dir / "lock", O_RDWR | O_CREAT)) {
        while (::flock(fd_.get(), LOCK_EX) != 0)
            if (errno != EINTR)
                throw_errno("flock " + (job_dir / "lock").string());
    }

private:
    unique_fd fd_;
};

fs::path job_directory(const fs::path& state_dir, job_id job) {
    return state_dir / ("job-" + std::to_string(job));
}

// Counts the sessions whose holder still lives; removes the files of the dead.
std::size_t count_live(const fs::path& job_dir) {
    std::size_t live = 0;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(job_dir, ec)) {
        auto name = entry.path().filename().string();
        if (!name.starts_with(session_prefix))
            continue;
        unique_fd fd(::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
        if (!fd)
            continue;
        if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0)
            fs::remove(entry.path(), ec); // its holder died without leaving
        else
            ++live;
    }
    return live;
}

} // namespace

session_registration::session_registration(const fs::path& state_dir, job_id job)
    : job_dir_(job_directory(state_dir, job)) {
    std::error_code ec;
    fs::create_directories(job_dir_, ec);
    if (ec)
        throw std::system_error(ec, "create " + job_dir_.string());
    static std::atomic<unsigned> serial{0};
    file_ = job_dir_ / (std::string(session_prefix) + std::to_string(::getpid()) + "-" +
                        std::to_string(serial++));
    job_lock lock(job_dir_);
    fd_ = open_file(file_, O_RDWR | O_CREAT | O_TRUNC);
    if (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0)
        throw_errno("flock " + file_.string());
}

session_registration::~session_registration() {
    if (fd_) {
        try {
            leave();
        } catch (...) {
            // The kernel still releases our lock when the process ends.
        }
    }
}

bool session_registration::leave() {
    if (!fd_)
        return false;
    job_lock lock(job_dir_);
    std::error_code ec;
    fs::remove(file_, ec);
    fd_.reset();
    return count_live(job_dir_) == 0;
}

std::size_t live_sessions(const fs::path& state_dir, job_id job) {
    auto job_dir = job_directory(state_dir, job);
    if (!fs::exists(job_dir))
        return 0;
    job_lock lock(job_dir);
    return count_live(job_dir);
}

} // namespace jobssh
