#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <jobssh/tail/followed_log.hpp>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace jobssh {

followed_log::followed_log(std::filesystem::path path, std::string name, std::string prefix,
                           std::size_t chunk_size)
    : path_(std::move(path))
    , name_(std::move(name))
    , lines_(std::move(prefix), chunk_size)
    , chunk_size_(std::max<std::size_t>(chunk_size, 1)) {}

void followed_log::open() {
    fd_ = unique_fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (fd_ && ::fstat(fd_.get(), &st) == 0) {
        device_ = st.st_dev;
        inode_ = st.st_ino;
    }
    offset_ = 0;
    last_read_.clear();
}

// Reads up to chunk_size bytes from the open file. Returns false at its end.
bool followed_log::read_some(std::span<char> buffer, std::size_t reserve, byte_buffer& out) {
    // What is held back counts against the chunk, so no call passes on more than it.
    std::size_t held = lines_.held();
    std::size_t room = std::min(chunk_size_ > held ? chunk_size_ - held : 1, buffer.size());
    ssize_t n;
    do
        n = ::pread(fd_.get(), buffer.data(), room, offset_);
    while (n < 0 && errno == EINTR);
    at_end_ = n < static_cast<ssize_t>(room);
    if (n <= 0)
        return false;
    offset_ += n;
    std::string_view got(buffer.data(), static_cast<std::size_t>(n));
    if (got.size() >= rewrite_check_bytes) {
        last_read_.assign(got.substr(got.size() - rewrite_check_bytes));
    } else {
        last_read_.append(got);
        if (last_read_.size() > rewrite_check_bytes)
            last_read_.erase(0, last_read_.size() - rewrite_check_bytes);
    }
    // The batch's buffer, once there is something for it: a wake-up that finds nothing new
    // allocates nothing.
    out.reserve(reserve);
    lines_.take(got, out);
    return !at_end_;
}

// The open file no longer holds what was read from it: it is shorter than the point read
// to, or its last bytes read are no longer there (truncated, then written past that point).
bool followed_log::rewritten() {
    struct stat st {};
    if (::fstat(fd_.get(), &st) != 0)
        return false;
    if (st.st_size < offset_)
        return true;
    if (last_read_.empty())
        return false;
    char here[rewrite_check_bytes];
    ssize_t n;
    do
        n = ::pread(fd_.get(), here, last_read_.size(),
                    offset_ - static_cast<off_t>(last_read_.size()));
    while (n < 0 && errno == EINTR);
    return n == static_cast<ssize_t>(last_read_.size()) &&
           std::memcmp(here, last_read_.data(), last_read_.size()) != 0;
}

bool followed_log::sync(std::span<char> buffer, std::size_t reserve, follow_output& out) {
    if (!fd_) {
        open();
        if (!fd_)
            return false;
    }
    // While a log has more to read, it is read on: a file replaced or truncated meanwhile
    // shows when its end is reached, and what was written to it before is shown first. Two
    // stat calls per read would cost a quarter of a big finished job's tail.
    if (!at_end_)
        return read_some(buffer, reserve, out.lines);
    struct stat now {};
    bool replaced =
        ::stat(path_.c_str(), &now) == 0 && (now.st_dev != device_ || now.st_ino != inode_);
    if (replaced) {
        // What was written to the old file before it went is still shown.
        while (read_some(buffer, reserve, out.lines)) {
        }
        lines_.flush(out.lines);
        out.notices.push_back(name_ + " was replaced; reading it again from the start.");
        open();
    } else if (rewritten()) {
        lines_.flush(out.lines);
        out.notices.push_back(name_ + " was truncated; reading it again from the start.");
        offset_ = 0;
        last_read_.clear();
    }
    return read_some(buffer, reserve, out.lines);
}

} // namespace jobssh
