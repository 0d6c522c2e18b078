#pragma once

// asciicast v2 (asciinema's file format): a JSON header line, then one JSON array per event,
// `[seconds, "o"|"i"|"r", "data"]`. Written one whole line per write(2), so that a watcher
// following the file, or a reader after a SIGKILL, finds only whole events.

#include <chrono>
#include <cstdint>
#include <jobssh/common/posix.hpp>
#include <jobssh/connect/pty.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace jobssh {

// Terminal bytes as the text of a JSON string. A character whose bytes are split across
// reads is held back until it is whole, so that it lands whole in one event; bytes that are
// not UTF-8 become U+FFFD (what a terminal shows for them), so that players load the file.
class utf8_json_encoder {
public:
    // Appends the JSON string (with its quotes) of what is held back plus `bytes`, less a
    // character still incomplete at the end.
    void encode(std::string_view bytes, std::string& out);
    std::size_t held_back() const { return pending_.size(); }

private:
    std::string pending_;
};

struct asciicast_header {
    window_size size;
    std::int64_t timestamp = 0; // Unix time of the start
    std::string term;           // TERM, in "env"
    std::string title;
};

std::string header_line(const asciicast_header& header);

struct asciicast_event {
    std::chrono::microseconds time{0}; // since the start
    char code = 'o';                   // 'o' output, 'i' input, 'r' resize, 'm' marker
    std::string data;
};

// nullopt for a line that is not one (a cut-off last line, another format).
std::optional<asciicast_header> parse_header(std::string_view line);
std::optional<asciicast_event> parse_event(std::string_view line);

// Appends a session's events to a file as they happen. A write that fails (a full disk)
// ends the recording: the file is cut back to its last whole event, error() tells why, and
// nothing is written any more. Never throws for a failed write.
class asciicast_writer {
public:
    // Writes the header at once.
    asciicast_writer(unique_fd file, const asciicast_header& header,
                     std::chrono::steady_clock::time_point start);

    void output(std::string_view bytes);
    void input(std::string_view keys);
    void resize(window_size size);
    // Waits for the data to be on disk (at the session's end).
    void sync();

    int error() const { return error_; } // errno of the write that failed, 0 while all went well
    int fd() const { return file_.get(); }

private:
    void event(char code, utf8_json_encoder& encoder, std::string_view bytes);
    void write_line();

    unique_fd file_;
    std::chrono::steady_clock::time_point start_;
    utf8_json_encoder output_;
    utf8_json_encoder input_;
    std::string line_; // reused from event to event
    long long written_ = 0;
    int error_ = 0;
};

} // namespace jobssh
