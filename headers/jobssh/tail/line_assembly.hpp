#pragma once

// Turns the bytes of one log, read in pieces of any size, into the lines the user sees
// (docs/design.md, "Logs on the runner host"): whole lines, each task line prefixed "[<task>] ",
// bytes untouched, a multi-byte character never cut.
//
// A line longer than the chunk size cannot be held back whole: it goes out in pieces, and
// every piece carries the log's prefix and ends with a newline, so no other log's line is
// ever glued to it, and each piece is found again by its prefix (README, `tail`). A newline
// that comes right after a cut ends the piece already ended: it adds no empty line. Pure:
// no files, no I/O; the fuzz target fuzz_log_lines drives it through the follower.

#include <cstddef>
#include <jobssh/common/byte_buffer.hpp>
#include <string>
#include <string_view>

namespace jobssh {

class line_assembler {
public:
    // `prefix`: "" for the job log, "[<task>] " for a task's log.
    line_assembler(std::string prefix, std::size_t chunk_size);

    // Passes on the whole lines of the held-back bytes followed by `fresh`, and a piece of
    // a line that has reached the chunk size; holds back the rest.
    void take(std::string_view fresh, byte_buffer& out);

    // The log ends here (the job is over, or its file was replaced or truncated): a line
    // held back goes out, ended with a newline.
    void flush(byte_buffer& out);

    // Bytes held back, waiting for the end of their line.
    std::size_t held() const { return partial_.size(); }
    const std::string& prefix() const { return prefix_; }

private:
    // `line_start`: whether `bytes` begin a line; left saying whether the next byte does.
    void emit(std::string_view bytes, bool& line_start, byte_buffer& out) const;
    void clear_partial();

    std::string prefix_;
    std::size_t chunk_size_;
    std::string partial_;    // bytes after the last newline passed on
    bool after_cut_ = false; // the last piece was cut, and ended with a newline of ours
};

// How many leading bytes of `text` end on a character boundary (so a multi-byte character
// is never cut when a line too long to hold is passed on in pieces).
std::size_t utf8_boundary(std::string_view text);

// Copies `text` to `to` with `prefix` before the first byte of each line. `line_start` says
// whether `text` begins a line, and is left saying whether the byte after it will.
void copy_prefixed(std::string_view text, std::string_view prefix, bool& line_start,
                   byte_buffer& to);

} // namespace jobssh
