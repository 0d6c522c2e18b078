#pragma once

// One log file followed by name: read from its first byte a chunk at a time, through its
// line_assembler. The writer may change it under us (Edges of DESIGN's "Logs on the runner
// host"): a file replaced under the same name (rename, or removed and made again, with its
// task directory too) is followed from the new file's first byte; a file truncated is read
// again from its start, whatever was written to it since. Each says so once, in a notice.

#include <cstddef>
#include <filesystem>
#include <jobssh/common/byte_buffer.hpp>
#include <jobssh/common/posix.hpp>
#include <jobssh/tail/line_assembly.hpp>
#include <span>
#include <string>
#include <sys/types.h>
#include <vector>

namespace jobssh {

struct follow_output {
    byte_buffer lines;                // ready for the user, in order per log
    std::vector<std::string> notices; // for the user, apart from the log bytes
};

// A truncated log that was written again past the point read before (the writer was quick,
// or the reader stopped) reads longer, not shorter: it is told by its last bytes read, which
// are no longer where they were. Up to this many are kept and compared. A log rewritten with
// the very same bytes there is taken for one that grew.
constexpr std::size_t rewrite_check_bytes = 64;

class followed_log {
public:
    // `name` is "log" or "<task>/log", for notices; `prefix` "" or "[<task>] ".
    followed_log(std::filesystem::path path, std::string name, std::string prefix,
                 std::size_t chunk_size);

    // Reads the next chunk into `buffer` (of at least chunk_size) and passes its lines on.
    // At the end of what was read before, looks whether the file was replaced or truncated
    // first. `reserve` is what out.lines reserves once there is something for it. Returns
    // true when the file has more to read right now.
    bool sync(std::span<char> buffer, std::size_t reserve, follow_output& out);

    // The last read found no more: the next sync looks for a replaced or truncated file.
    bool at_end() const { return at_end_; }

    // The job is over: what is held back goes out as a line.
    void flush(byte_buffer& out) { lines_.flush(out); }

private:
    void open();
    bool rewritten();
    bool read_some(std::span<char> buffer, std::size_t reserve, byte_buffer& out);

    std::filesystem::path path_;
    std::string name_;
    line_assembler lines_;
    std::size_t chunk_size_;
    unique_fd fd_;
    dev_t device_ = 0;
    ino_t inode_ = 0;
    off_t offset_ = 0;
    bool at_end_ = true;
    std::string last_read_; // up to rewrite_check_bytes ending at offset_
};

} // namespace jobssh
