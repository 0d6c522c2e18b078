#include <atomic>
#include <cerrno>
#include <fcntl.h>
#include <jobssh/common/posix.hpp>
#include <jobssh/common/syslog.hpp>
#include <jobssh/connect/control_master.hpp>
#include <jobssh/connect/session_registry.hpp>
#include <string>
#include <string_view>
#include <sys/file.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace jobssh {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view joining = "joining-";
constexpr std::string_view interactive = "interactive-";
constexpr std::string_view one_command = "command-";
constexpr std::string_view lingering = "linger-";
constexpr std::string_view terminate_due = "terminate-due";
constexpr std::string_view master_socket = "mux";

fs::path job_directory(const fs::path& state_dir, job_id job) {
    return state_dir / ("job-" + std::to_string(job));
}

std::string_view prefix_of(session_kind kind) {
    return kind == session_kind::interactive ? interactive : one_command;
}

void lock_exclusively(int fd, const fs::path& path) {
    while (::flock(fd, LOCK_EX) != 0)
        if (errno != EINTR)
            throw_errno("flock " + path.string());
}

// Files made as root (an operator trying jobssh-shell by hand) go to the owner of state-dir,
// so that the login user's sessions can use them afterwards.
void give_to_owner_of(const fs::path& state_dir, const fs::path& path) {
    if (::geteuid() != 0)
        return;
    struct stat owner {};
    if (::stat(state_dir.c_str(), &owner) == 0) [[maybe_unused]]
        int ignored = ::lchown(path.c_str(), owner.st_uid, owner.st_gid);
}

// A job directory we cannot use is renamed out of the way (renaming needs only state-dir to
// be ours) and removed when we may; the operator is told when we may not.
void move_aside(const fs::path& state_dir, const fs::path& dir) {
    static std::atomic<unsigned> serial{0};
    auto aside = state_dir / ("stale-" + dir.filename().string() + "-" +
                              std::to_string(::getpid()) + "-" + std::to_string(serial++));
    if (::rename(dir.c_str(), aside.c_str()) != 0)
        throw_errno("rename " + dir.string() + " (not usable) to " + aside.string());
    std::error_code ec;
    fs::remove_all(aside, ec);
    log_fields line;
    line.add("event", "stale_state").add("path", dir.string());
    if (ec)
        line.add("moved_to", aside.string()).add("remove", ec.message());
    log_error(line);
}

// The state of one file of a job directory: held by a live session (or its watcher), or not.
bool held(const fs::path& path) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (!fd)
        return false;
    return ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0;
}

struct census {
    std::size_t started = 0; // interactive and command sessions
    std::size_t joining = 0;
};

// Counts the sessions of a job directory whose holders live, `except` one; removes the files
// of the dead (lingers included).
census count_live(const fs::path& dir, const std::string& except) {
    census count;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        auto name = entry.path().filename().string();
        bool is_joining = name.starts_with(joining);
        bool is_started = name.starts_with(interactive) || name.starts_with(one_command);
        if (!is_joining && !is_started && !name.starts_with(lingering))
            continue;
        if (!except.empty() && name.ends_with(except) &&
            name.substr(0, name.size() - except.size()).find('-') ==
                name.size() - except.size() - 1)
            continue; // <prefix>-<except>: the session being decided about
        if (!held(entry.path())) {
            fs::remove(entry.path(), ec); // its holders died without leaving
            continue;
        }
        count.joining += is_joining;
        count.started += is_started;
    }
    return count;
}

// Where session `id`'s file is now, and under which prefix; an empty path when it is gone.
std::pair<fs::path, std::string_view> find_session(const fs::path& dir, const std::string& id) {
    for (auto prefix : {joining, interactive, one_command, lingering}) {
        auto path = dir / (std::string(prefix) + id);
        struct stat st {};
        if (::lstat(path.c_str(), &st) == 0)
            return {path, prefix};
    }
    return {};
}

void remove_file(const fs::path& path) {
    std::error_code ec;
    fs::remove(path, ec);
}

bool named(const fs::path& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

void make_file(const fs::path& state_dir, const fs::path& path) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!fd)
        throw_errno("create " + path.string());
    give_to_owner_of(state_dir, path);
}

// The decision shared by a session's own leave and its watcher's, under `lock`.
leave_decision decide(const fs::path& state_dir, job_lock lock, const std::string& id,
                      bool can_linger, bool reached = true) {
    const auto& dir = lock.directory();
    auto [path, prefix] = find_session(dir, id);
    if (path.empty() || prefix == lingering)
        return {vm_verdict::keep, std::move(lock)}; // left already
    census others = count_live(dir, id);
    auto due = dir / terminate_due;
    if (prefix == joining || !reached) {
        // It never started, or never reached the user: the job is left as it was found, a
        // terminate that was due included.
        remove_file(path);
        if (others.started + others.joining == 0 && named(due)) {
            remove_file(due);
            return {vm_verdict::terminate, std::move(lock)};
        }
        return {vm_verdict::keep, std::move(lock)};
    }
    if (others.started > 0) {
        remove_file(path);
        return {vm_verdict::keep, std::move(lock)};
    }
    if (prefix == one_command && can_linger) {
        // Its holder (the watcher) keeps the flock: the linger counts as long as it runs.
        auto linger = dir / (std::string(lingering) + id);
        if (::rename(path.c_str(), linger.c_str()) != 0)
            throw_errno("rename " + path.string());
        return {vm_verdict::linger, std::move(lock)};
    }
    remove_file(path);
    if (others.joining > 0) {
        // Someone is about to start on this VM: not under them; the terminate is theirs to
        // send if they leave without starting.
        make_file(state_dir, due);
        return {vm_verdict::keep, std::move(lock)};
    }
    remove_file(due);
    return {vm_verdict::terminate, std::move(lock)};
}

} // namespace

job_lock::job_lock(const fs::path& state_dir, job_id job)
    : dir_(job_directory(state_dir, job)) {
    // A few rounds: each is lost only to a directory removed or moved aside meanwhile.
    for (int round = 0; round < 16; ++round) {
        if (::mkdir(dir_.c_str(), 0755) == 0)
            give_to_owner_of(state_dir, dir_);
        else if (errno != EEXIST)
            throw_errno("create " + dir_.string());
        auto lock_path = dir_ / "lock";
        unique_fd fd(::open(lock_path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
        if (!fd) {
            if (errno == ENOENT)
                continue; // removed by the last to leave
            if (errno == EACCES || errno == EPERM || errno == ENOTDIR || errno == ELOOP) {
                move_aside(state_dir, dir_);
                continue;
            }
            throw_errno("open " + lock_path.string());
        }
        give_to_owner_of(state_dir, lock_path);
        lock_exclusively(fd.get(), lock_path);
        // The lock we waited for may have been unlinked by the session that held it.
        struct stat ours {
        }, named{};
        if (::fstat(fd.get(), &ours) != 0 || ::lstat(lock_path.c_str(), &named) != 0 ||
            ours.st_ino != named.st_ino || ours.st_dev != named.st_dev)
            continue;
        if (::faccessat(AT_FDCWD, dir_.c_str(), W_OK | X_OK, AT_EACCESS) != 0) {
            move_aside(state_dir, dir_);
            continue;
        }
        fd_ = std::move(fd);
        return;
    }
    throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again),
                            "lock " + dir_.string());
}

job_lock::~job_lock() {
    if (!fd_)
        return;
    // Nothing left but the lock (and the job's master connection, which serves sessions
    // only): the directory goes, before the lock is released, so that nobody can have joined
    // it meanwhile.
    std::error_code ec;
    bool empty = true;
    bool master = false;
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
        auto name = entry.path().filename().string();
        if (name == "lock")
            continue;
        if (is_master_file(name, master_socket)) {
            master = true;
            continue;
        }
        empty = false;
        break;
    }
    if (empty && !ec) {
        if (master) {
            stop_master(dir_ / master_socket);
            remove_file(dir_ / (std::string(master_socket) + ".lock"));
        }
        remove_file(dir_ / "lock");
        ::rmdir(dir_.c_str());
    }
}

session_registration::session_registration(const fs::path& state_dir, job_id job)
    : state_dir_(state_dir)
    , job_(job) {
    static std::atomic<unsigned> serial{0};
    id_ = std::to_string(::getpid()) + "-" + std::to_string(serial++);
    job_lock lock(state_dir_, job_);
    auto path = lock.directory() / (std::string(joining) + id_);
    fd_ =
        unique_fd(::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!fd_)
        throw_errno("create " + path.string());
    give_to_owner_of(state_dir_, path);
    if (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0)
        throw_errno("flock " + path.string());
}

session_registration::~session_registration() {
    if (fd_) {
        try {
            leave(false);
        } catch (...) {
            // The kernel still releases our lock when the process ends.
        }
    }
}

void session_registration::started(session_kind kind) {
    if (!fd_)
        return;
    job_lock lock(state_dir_, job_);
    const auto& dir = lock.directory();
    auto from = dir / (std::string(joining) + id_);
    auto to = dir / (std::string(prefix_of(kind)) + id_);
    if (::rename(from.c_str(), to.c_str()) != 0)
        throw_errno("rename " + from.string());
    // A session started: a VM kept lingering stays for it, a terminate left due is off.
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec))
        if (entry.path().filename().string().starts_with(lingering))
            remove_file(entry.path());
    remove_file(dir / terminate_due);
}

leave_decision session_registration::leave(bool can_linger, bool reached) {
    job_lock lock(state_dir_, job_);
    auto decision = decide(state_dir_, std::move(lock), id_, can_linger, reached);
    fd_.reset();
    return decision;
}

leave_decision leave_for(const fs::path& state_dir, job_id job, const std::string& id,
                         bool can_linger) {
    return decide(state_dir, job_lock(state_dir, job), id, can_linger);
}

leave_decision linger_over(const fs::path& state_dir, job_id job, const std::string& id) {
    job_lock lock(state_dir, job);
    const auto& dir = lock.directory();
    auto linger = dir / (std::string(lingering) + id);
    if (!named(linger))
        return {vm_verdict::keep, std::move(lock)}; // called off: a session started
    remove_file(linger);
    census live = count_live(dir, id);
    if (live.started > 0)
        return {vm_verdict::keep, std::move(lock)};
    if (live.joining > 0) {
        make_file(state_dir, dir / terminate_due);
        return {vm_verdict::keep, std::move(lock)};
    }
    remove_file(dir / terminate_due);
    return {vm_verdict::terminate, std::move(lock)};
}

fs::path linger_file(const fs::path& state_dir, job_id job, const std::string& id) {
    return job_directory(state_dir, job) / (std::string(lingering) + id);
}

std::optional<fs::path> job_master_socket(const fs::path& state_dir, job_id job) {
    return control_path(job_directory(state_dir, job), master_socket);
}

std::size_t live_sessions(const fs::path& state_dir, job_id job) {
    if (!named(job_directory(state_dir, job)))
        return 0;
    job_lock lock(state_dir, job);
    census live = count_live(lock.directory(), "");
    return live.started + live.joining;
}

} // namespace jobssh
