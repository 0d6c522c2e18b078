// The log follower of tail, on real files: whatever bytes a job writes, in whatever pieces,
// however small the read chunk, and whatever happens to its logs while they are followed
// (truncated and written again, replaced under the same name, task directories made late,
// or removed and made again), the user gets every byte back as lines: task lines prefixed
// "[<task>] ", bytes untouched, a line longer than the chunk cut into pieces that are
// prefixed lines of their own and never end inside a UTF-8 character, and one notice for
// each truncation or replacement the follower can tell.
//
// The output is split back into the logs by line prefix: each log's lines must come back
// exactly, so nothing may be glued into the middle of a line.
//
// Input: byte 0 picks the chunk size (1…64), byte 1 the mode (bit 0: several logs, else
// only the log picked by bits 1-2; bits 5-6: a batch of 1-4 chunks), then records: a header
// byte, a length byte and that many bytes. Header: the log (% 3); bits 4-6: 6 truncates the
// log and writes the bytes, 7 replaces it with a new file of the bytes (bit 3: a task's
// directory is removed and made again, the job log removed and written again), anything
// else appends; bit 7: let the follower read after the write (it always reads before and
// after a truncation or replacement, so the model knows what it saw). Task directories are
// made when their log is first written.
#include "check.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <jobssh/tail/followed_log.hpp>
#include <jobssh/tail/log_follower.hpp>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace fs = std::filesystem;
using jobssh::fuzz::check;

namespace {

// One log as the job wrote it, and what the user must see of it.
struct written_log {
    fs::path file;
    std::string name;   // as notices name it
    std::string prefix; // "" or "[<task>] "
    bool exists = false;
    std::string content;  // the file's bytes now
    std::string expected; // every line the user must get, each ended

    // The follower starts this log over: a line begun is ended first.
    void end_segment() {
        if (!expected.empty() && expected.back() != '\n')
            expected += '\n';
    }
};

void write_file(const fs::path& file, std::string_view bytes, std::ios::openmode mode) {
    fs::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::binary | mode);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
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

// Gives each line of the output to the log its prefix names (none: the job log), prefix
// taken off, so a piece of another log's line in the middle of one breaks the log it
// lands in.
void demultiplex(std::string_view output, bool several_logs, unsigned only_log,
                 std::vector<std::string> (&per_log)[3]) {
    while (!output.empty()) {
        auto newline = output.find('\n');
        check(newline != std::string_view::npos, "the drained output ends with a whole line");
        std::string_view line = output.substr(0, newline + 1);
        unsigned log = !several_logs              ? only_log
                       : line.starts_with("[a] ") ? 1
                       : line.starts_with("[b] ") ? 2
                                                  : 0;
        if (log != 0) {
            check(line.starts_with(log == 1 ? "[a] " : "[b] "),
                  "every line of a task log starts with its prefix");
            line.remove_prefix(4);
        }
        per_log[log].emplace_back(line);
        output.remove_prefix(newline + 1);
    }
}

// The user's lines of one log are its expected lines, some of them cut into pieces: a cut
// only in a line that reached the chunk size, never inside a UTF-8 character, never empty.
void check_lines(const std::vector<std::string>& lines, const std::string& expected,
                 std::size_t chunk_size) {
    const bool utf8 = valid_utf8(expected);
    std::size_t at = 0;
    for (std::string_view line : lines) {
        line.remove_suffix(1);
        check(expected.compare(at, line.size(), line) == 0,
              "each log's lines reach the user whole, in order, untouched");
        at += line.size();
        check(at < expected.size(), "no more lines than the log has");
        if (expected[at] == '\n') {
            ++at;
            continue;
        }
        check(!line.empty() && line.size() + 4 >= chunk_size,
              "a line is cut only when it reached the chunk size");
        if (utf8)
            check((static_cast<unsigned char>(expected[at]) & 0xC0) != 0x80,
                  "a piece of a line never ends inside a UTF-8 character");
    }
    check(at == expected.size(), "every byte of the log reaches the user");
}

// One input, as the header says. (Out of LLVMFuzzerTestOneInput: g++ gives lambdas in an
// extern "C" function the same symbol.)
void follow(const unsigned char* data, std::size_t size) {
    const std::size_t chunk_size = 1 + data[0] % 64;
    const bool several_logs = data[1] & 1;
    const unsigned only_log = (data[1] >> 1) % 3;

    static const fs::path job_dir = jobssh::fuzz::scratch_path("log") / "job";
    std::error_code ignored;
    fs::remove_all(job_dir, ignored);
    fs::create_directories(job_dir);
    written_log logs[3] = {{.file = job_dir / "log", .name = "log", .prefix = ""},
                           {.file = job_dir / "a" / "log", .name = "a/log", .prefix = "[a] "},
                           {.file = job_dir / "b" / "log", .name = "b/log", .prefix = "[b] "}};
    std::vector<std::string> expected_notices;

    asio::io_context io;
    const std::size_t batch_size = chunk_size * (1 + (data[1] >> 5) % 4);
    jobssh::log_follower follower(
        io.get_executor(), job_dir,
        jobssh::follow_options{.chunk_size = chunk_size, .batch_size = batch_size});
    // The user's side, as tail_job runs it: whatever next() gives, until it drained.
    std::string output;
    std::vector<std::string> notices;
    bool drained = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            for (;;) {
                jobssh::follow_output got = co_await follower.next();
                output += got.lines;
                notices.insert(notices.end(), got.notices.begin(), got.notices.end());
                if (got.lines.empty() && got.notices.empty() && follower.stopped()) {
                    drained = true;
                    co_return;
                }
            }
        },
        asio::detached);
    // The follower reads what the kernel said so far, until it waits for more.
    auto let_it_read = [&] {
        io.restart();
        while (io.poll() > 0) {
        }
    };
    let_it_read();

    for (std::size_t at = 2; at + 2 <= size;) {
        const unsigned char header = data[at];
        const std::size_t length = std::min<std::size_t>(data[at + 1], size - at - 2);
        at += 2;
        const unsigned index = several_logs ? header % 3 : only_log;
        written_log& log = logs[index];
        std::string bytes(reinterpret_cast<const char*>(data + at), length);
        at += length;
        // Several logs: no line of the job log may pass for a task's.
        if (several_logs && index == 0)
            std::replace(bytes.begin(), bytes.end(), '[', '{');
        const unsigned operation = (header >> 4) & 7;
        if (operation < 6 || !log.exists) {
            write_file(log.file, bytes, std::ios::app);
            log.content += bytes;
            log.expected += bytes;
            log.exists = true;
        } else {
            // What was written before is all shown first, so the model knows where the
            // follower stands: at the end of the old content.
            let_it_read();
            const std::string& old = log.content;
            if (operation == 6) {
                write_file(log.file, bytes, std::ios::trunc);
                const std::size_t window = std::min(old.size(), jobssh::rewrite_check_bytes);
                const bool told = bytes.size() < old.size() ||
                                  (window > 0 && bytes.compare(old.size() - window, window, old,
                                                               old.size() - window, window) != 0);
                if (told) {
                    log.end_segment();
                    log.expected += bytes;
                    expected_notices.push_back(log.name +
                                               " was truncated; reading it again from the start.");
                } else {
                    // The same last bytes where they were: taken for a log that grew.
                    log.expected += bytes.substr(old.size());
                }
            } else {
                if (header & 0x08) {
                    if (index == 0)
                        fs::remove(log.file);
                    else
                        fs::remove_all(log.file.parent_path());
                    write_file(log.file, bytes, std::ios::trunc);
                } else {
                    fs::path fresh = log.file;
                    fresh += ".new";
                    write_file(fresh, bytes, std::ios::trunc);
                    fs::rename(fresh, log.file);
                }
                log.end_segment();
                log.expected += bytes;
                expected_notices.push_back(log.name +
                                           " was replaced; reading it again from the start.");
            }
            log.content = bytes;
        }
        // A truncation is told by what the file holds when the follower looks: it looks
        // now, before the next write (which could make the same bytes stand there again).
        if (header & 0x80 || operation >= 6)
            let_it_read();
    }

    // The job is over: drain what is left, as tail does.
    follower.stop();
    io.restart();
    io.run();
    check(drained, "a stopped follower drains to an end");

    if (std::getenv("JOBSSH_FUZZ_DEBUG")) {
        std::fprintf(stderr, "got %zu bytes:\n", output.size());
        std::fwrite(output.data(), 1, output.size(), stderr);
        for (written_log& log : logs) {
            log.end_segment();
            std::fprintf(stderr, "\n--- expected of %s\n", log.name.c_str());
            std::fwrite(log.expected.data(), 1, log.expected.size(), stderr);
        }
        for (const std::string& notice : notices)
            std::fprintf(stderr, "notice: %s\n", notice.c_str());
    }
    std::vector<std::string> per_log[3];
    demultiplex(output, several_logs, only_log, per_log);
    for (int index = 0; index < 3; ++index) {
        logs[index].end_segment();
        check_lines(per_log[index], logs[index].expected, chunk_size);
    }
    std::sort(notices.begin(), notices.end());
    std::sort(expected_notices.begin(), expected_notices.end());
    check(notices == expected_notices,
          "one notice for each truncation and replacement, none for a log that grew");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
    if (size >= 2)
        follow(data, size);
    return 0;
}
