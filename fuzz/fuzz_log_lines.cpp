// The log splitter and prefixer of tail, on real files: whatever bytes a job writes, in
// whatever pieces, and however small the read chunk, the user gets them all back as whole
// lines, bytes untouched, task lines prefixed "[<task>] ", and a piece of an overlong line
// never ends inside a UTF-8 character.
//
// With several logs, the output is split back into the logs by line prefix: each log's
// lines must come back exactly, so nothing may be glued into the middle of a line.
//
// Input: byte 0 picks the chunk size (1…64), byte 1 the mode (bit 0: several logs, else
// only the log picked by the next bits; bits 5-6: a batch of 1-4 chunks), then records: a header
// byte (log to write, bit 7: read after the write), a length byte and that many bytes to append.
#include "check.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <jobssh/tail/log_follower.hpp>
#include <string>

namespace asio = boost::asio;
namespace fs = std::filesystem;
using jobssh::fuzz::check;

namespace {

const fs::path& scratch() {
    static const fs::path dir = jobssh::fuzz::scratch_path("log");
    return dir;
}

struct written_log {
    fs::path file;
    std::string prefix;
    std::string bytes;
};

// What the user must see of one log in the end: every line, the last one ended.
std::string expected_output(const written_log& log) {
    std::string out;
    bool line_start = true;
    for (char c : log.bytes) {
        if (line_start)
            out += log.prefix;
        out += c;
        line_start = c == '\n';
    }
    if (!line_start)
        out += '\n';
    return out;
}

std::size_t length_of_utf8_sequence(unsigned char lead) {
    return lead < 0x80           ? 1
           : (lead >> 5) == 0x6  ? 2
           : (lead >> 4) == 0xE  ? 3
           : (lead >> 3) == 0x1E ? 4
                                 : 0;
}

bool valid_utf8(std::string_view text) {
    for (std::size_t i = 0; i < text.size();) {
        std::size_t length = length_of_utf8_sequence(static_cast<unsigned char>(text[i]));
        if (length == 0 || i + length > text.size())
            return false;
        for (std::size_t k = 1; k < length; ++k)
            if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80)
                return false;
        i += length;
    }
    return true;
}

// Removes the prefix of every line start from one log's output; `line_start` carries over.
std::string without_prefixes(std::string_view out, const std::string& prefix, bool& line_start) {
    std::string raw;
    while (!out.empty()) {
        if (line_start && !prefix.empty()) {
            check(out.starts_with(prefix), "every line of a task log starts with its prefix");
            out.remove_prefix(prefix.size());
        }
        auto newline = out.find('\n');
        std::size_t length = newline == std::string_view::npos ? out.size() : newline + 1;
        raw.append(out.substr(0, length));
        line_start = newline != std::string_view::npos;
        out.remove_prefix(length);
    }
    return raw;
}

// True when a line of the job log's own bytes starts like a task's line: then its lines
// cannot be told apart from the tasks' by their prefix.
bool looks_prefixed(std::string_view bytes) {
    for (std::size_t start = 0; start <= bytes.size();) {
        std::string_view line = bytes.substr(start);
        if (line.starts_with("[a] ") || line.starts_with("[b] "))
            return true;
        auto newline = bytes.find('\n', start);
        if (newline == std::string_view::npos)
            break;
        start = newline + 1;
    }
    return false;
}

// Gives each line of the output to the log its prefix names (none: the job log), so a
// piece of another log's line in the middle of one breaks the log it lands in.
void demultiplex(std::string_view output, std::string (&per_log)[3]) {
    while (!output.empty()) {
        auto newline = output.find('\n');
        check(newline != std::string_view::npos, "the drained output ends with a whole line");
        std::string_view line = output.substr(0, newline + 1);
        int log = line.starts_with("[a] ") ? 1 : line.starts_with("[b] ") ? 2 : 0;
        per_log[log] += line;
        output.remove_prefix(newline + 1);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
    if (size < 2)
        return 0;
    const std::size_t chunk_size = 1 + data[0] % 64;
    const bool several_logs = data[1] & 1;
    const unsigned only_log = (data[1] >> 1) % 3;

    const fs::path job_dir = scratch() / "job";
    std::error_code ignored;
    fs::remove_all(job_dir, ignored);
    fs::create_directories(job_dir / "a");
    fs::create_directories(job_dir / "b");
    written_log logs[3] = {{job_dir / "log", "", {}},
                           {job_dir / "a" / "log", "[a] ", {}},
                           {job_dir / "b" / "log", "[b] ", {}}};

    asio::io_context io;
    const std::size_t batch_size = chunk_size * (1 + (data[1] >> 5) % 4);
    jobssh::log_follower follower(
        io.get_executor(), job_dir,
        jobssh::follow_options{.chunk_size = chunk_size, .batch_size = batch_size});
    std::string output;
    // Single-log mode: what the user got so far, without prefixes, and where it ends.
    std::string raw;
    bool raw_line_start = true;

    for (std::size_t at = 2; at + 2 <= size;) {
        const unsigned char header = data[at];
        const std::size_t length = std::min<std::size_t>(data[at + 1], size - at - 2);
        at += 2;
        written_log& log = logs[several_logs ? header % 3 : only_log];
        {
            std::ofstream file(log.file, std::ios::binary | std::ios::app);
            file.write(reinterpret_cast<const char*>(data + at),
                       static_cast<std::streamsize>(length));
        }
        log.bytes.append(reinterpret_cast<const char*>(data + at), length);
        at += length;
        if (!(header & 0x80))
            continue;
        jobssh::follow_output got = follower.read_available();
        check(got.notices.empty(), "appending to a log gives no notice");
        output += got.lines;
        if (several_logs)
            continue;
        raw += without_prefixes(got.lines, logs[only_log].prefix, raw_line_start);
        const std::string& bytes = logs[only_log].bytes;
        check(bytes.starts_with(raw), "the user gets the log's bytes in order, untouched");
        if (valid_utf8(bytes))
            check(raw.size() == bytes.size() ||
                      (static_cast<unsigned char>(bytes[raw.size()]) & 0xC0) != 0x80,
                  "a piece of a line never ends inside a UTF-8 character");
    }

    // The job is over: drain what is left, as tail does.
    follower.stop();
    bool drained = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            for (int round = 0; round < 100000; ++round) {
                jobssh::follow_output got = co_await follower.next();
                check(got.notices.empty(), "appending to a log gives no notice");
                if (got.lines.empty()) {
                    drained = true;
                    co_return;
                }
                output += got.lines;
            }
        },
        asio::detached);
    io.run();
    check(drained, "a stopped follower drains to an end");

    if (several_logs) {
        std::size_t expected = 0;
        for (const written_log& log : logs)
            expected += expected_output(log).size();
        if (std::getenv("JOBSSH_FUZZ_DEBUG")) {
            std::fprintf(stderr, "expected %zu bytes, got %zu:\n", expected, output.size());
            std::fwrite(output.data(), 1, output.size(), stderr);
            for (const written_log& log : logs) {
                std::fprintf(stderr, "\n--- expected of %s\n", log.file.c_str());
                std::string e = expected_output(log);
                std::fwrite(e.data(), 1, e.size(), stderr);
            }
        }
        check(output.size() == expected, "every byte of every log reaches the user once");
        if (!looks_prefixed(logs[0].bytes)) {
            std::string per_log[3];
            demultiplex(output, per_log);
            for (int log = 0; log < 3; ++log)
                check(per_log[log] == expected_output(logs[log]),
                      "each log's lines reach the user whole, in order, untouched");
        }
    } else {
        check(output == expected_output(logs[only_log]),
              "the user gets every line of the log, prefixed, the last one ended");
    }
    return 0;
}
