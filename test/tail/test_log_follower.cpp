// The log follower on real files in a temporary buildlogs directory, on its own io_context.
#define BOOST_TEST_MODULE log_follower
#include "inotify_holder.hpp"
#include "io_context_fixture.hpp"
#include "scratch_dir.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <grp.h>
#include <jobssh/common/failure.hpp>
#include <jobssh/common/syslog.hpp>
#include <jobssh/tail/log_follower.hpp>
#include <optional>
#include <string>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using jobssh::follow_output;
using jobssh::log_follower;

namespace {

void append(const fs::path& file, std::string_view bytes);

struct buildlogs : jobssh::testing::io_context_fixture {
    jobssh::testing::scratch_dir root;
    fs::path job_dir = root.path() / "7";

    // Runs a test script on the io_context; a follower that never wakes fails the test
    // instead of hanging it.
    void run(std::function<asio::awaitable<void>()> script) {
        bool finished = false;
        std::exception_ptr error;
        asio::co_spawn(ctx, script(), [&](std::exception_ptr e) {
            finished = true;
            error = e;
        });
        ctx.run_for(30s);
        BOOST_REQUIRE_MESSAGE(finished, "the follower did not wake up");
        if (error)
            std::rethrow_exception(error);
    }

    // Runs a test script with a follower of the job's logs.
    void follow(std::function<asio::awaitable<void>(log_follower&)> script) {
        run([&]() -> asio::awaitable<void> {
            log_follower follower(ctx.get_executor(), job_dir);
            co_await script(follower);
        });
    }

    // A follower of the job's logs shows `want` first.
    void follows_with(const std::string& want);

    // Writes once the follower waits for the kernel's word: the write is not found by a read
    // that looks anyway, only through the watch that reports it.
    void write_while_it_waits(const fs::path& file, std::string bytes) {
        asio::post(ctx, [file, bytes] { append(file, bytes); });
    }

    // All a follower reading `chunk_size` at a time shows of a job that is already over.
    std::string shown_of_finished_job(std::size_t chunk_size);

    // One write to the job's log, and what the follower shows after it: "" is nothing yet
    // (checked without waiting), else the lines it waits for.
    struct write_then_shown {
        std::string written;
        std::string shown;
    };
    // Follows the job's (empty) log while `steps` are written to it one after the other.
    void writes_show(std::vector<write_then_shown> steps);
};

void append(const fs::path& file, std::string_view bytes) {
    fs::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::binary | std::ios::app);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void buildlogs::writes_show(std::vector<write_then_shown> steps) {
    run([&]() -> asio::awaitable<void> {
        append(job_dir / "log", "");
        log_follower follower(ctx.get_executor(), job_dir);
        for (const auto& [written, shown] : steps) {
            append(job_dir / "log", written);
            if (shown.empty()) {
                BOOST_TEST(follower.read_available().lines == "", "after " << written);
                continue;
            }
            auto out = co_await follower.next();
            BOOST_TEST(out.lines == shown, "after " << written);
        }
    });
}

void overwrite(const fs::path& file, std::string_view bytes) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Collects from next() until `want` bytes came, keeping notices apart.
asio::awaitable<follow_output> collect(log_follower& follower, std::size_t want) {
    follow_output all;
    while (all.lines.size() < want) {
        follow_output some = co_await follower.next();
        all.lines += some.lines;
        all.notices.insert(all.notices.end(), some.notices.begin(), some.notices.end());
    }
    co_return all;
}

// Collects as many bytes as `want` holds: they must be `want`. Returns the notices that came.
asio::awaitable<std::vector<std::string>> expect_shown(log_follower& follower,
                                                       const std::string& want) {
    follow_output out = co_await collect(follower, want.size());
    BOOST_TEST(out.lines == want);
    co_return out.notices;
}

// Collects `want` as expect_shown does; `notice` must be the one notice that came with it.
asio::awaitable<void> expect_shown_with_notice(log_follower& follower, const std::string& want,
                                               const std::string& notice) {
    auto notices = co_await expect_shown(follower, want);
    BOOST_TEST(notices == std::vector{notice}, boost::test_tools::per_element());
}

void buildlogs::follows_with(const std::string& want) {
    follow([&](log_follower& follower) -> asio::awaitable<void> {
        co_await expect_shown(follower, want);
    });
}

// Returns once the follower has read every event the kernel queued so far: a task that
// starts now can only be found by looking after reading them (the directory events come
// in order), and its line is shown.
asio::awaitable<void> expect_events_seen(log_follower& follower, const fs::path& job_dir) {
    static int marks = 0;
    const std::string task = "mark" + std::to_string(++marks);
    append(job_dir / task / "log", "seen\n");
    co_await expect_shown(follower, "[" + task + "] seen\n");
}

const std::string truncated_notice = " was truncated; reading it again from the start.";
const std::string replaced_notice = " was replaced; reading it again from the start.";

// After stop(): collects from next() until it says the logs are drained.
asio::awaitable<std::string> drain(log_follower& follower) {
    std::string rest;
    for (;;) {
        auto out = co_await follower.next();
        if (out.lines.empty())
            co_return rest;
        rest += out.lines;
    }
}

std::string buildlogs::shown_of_finished_job(std::size_t chunk_size) {
    std::string shown;
    run([&]() -> asio::awaitable<void> {
        log_follower follower(ctx.get_executor(), job_dir, chunk_size);
        follower.stop();
        shown = co_await drain(follower);
    });
    return shown;
}

// Task a (read first: it starts first) writes a line longer than the follower's 4-byte chunk
// and stalls in it; task b has a whole line waiting. Returns what the user saw.
asio::awaitable<std::string> stall_a_cut_line_beside_a_waiting_one(const fs::path& job_dir,
                                                                   log_follower& follower) {
    append(job_dir / "a" / "log", "aaaaaa");
    append(job_dir / "b" / "log", "b\n");
    std::string shown((co_await follower.next()).lines);
    BOOST_TEST(shown == "[a] aaaa\n");
    co_return shown;
}

// The lines of `text`, each with its newline.
std::vector<std::string> lines_of(std::string_view text) {
    std::vector<std::string> lines;
    while (!text.empty()) {
        auto end = text.find('\n');
        end = end == std::string_view::npos ? text.size() : end + 1;
        lines.emplace_back(text.substr(0, end));
        text.remove_prefix(end);
    }
    return lines;
}

// Lines "<word>-0001\n" … up to `count`, as in a log a test truncates and writes again.
std::string numbered_lines(std::string_view word, int count) {
    std::string text;
    char line[32];
    for (int n = 1; n <= count; ++n) {
        std::snprintf(line, sizeof line, "-%04d\n", n);
        text.append(word).append(line);
    }
    return text;
}

std::string prefixed(std::string_view prefix, std::string_view text) {
    std::string out;
    for (const std::string& line : lines_of(text))
        out.append(prefix).append(line);
    return out;
}

// What this process sends to syslog, caught on a unix datagram socket of the test's own
// ([jobssh] syslog-socket), so that no system logger need run. Open to every user: the
// follower logs while the test acts as another.
class syslog_listener {
public:
    syslog_listener() {
        fs::permissions(dir_.path(), fs::perms::all);
        const std::string path = (dir_.path() / "log").string();
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        BOOST_REQUIRE(fd_ >= 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        BOOST_REQUIRE(path.size() < sizeof address.sun_path);
        path.copy(address.sun_path, path.size());
        BOOST_REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        fs::permissions(path, fs::perms::all);
        jobssh::send_syslog_to(path);
    }
    ~syslog_listener() {
        jobssh::send_syslog_to({});
        ::close(fd_);
    }
    syslog_listener(const syslog_listener&) = delete;
    syslog_listener& operator=(const syslog_listener&) = delete;

    // The records so far, as "<priority>text" (syslog(3)'s time, ident and pid taken out).
    std::vector<std::string> received() {
        std::vector<std::string> records;
        char buffer[8192];
        for (ssize_t n; (n = ::recv(fd_, buffer, sizeof buffer, 0)) > 0;) {
            std::string record(buffer, static_cast<std::size_t>(n));
            auto priority_end = record.find('>') + 1;
            auto text = record.find(": ", priority_end);
            records.push_back(record.substr(0, priority_end) +
                              (text == std::string::npos ? record : record.substr(text + 2)));
        }
        return records;
    }

private:
    jobssh::testing::scratch_dir dir_;
    int fd_ = -1;
};

// While it lives, the test process counts as `uid` (the kernel counts inotify instances by
// it); root again after, from the saved user id.
class acting_as {
public:
    explicit acting_as(uid_t uid) { BOOST_REQUIRE(::setresuid(uid, uid, 0) == 0); }
    ~acting_as() { (void)!::setresuid(0, 0, 0); }
    acting_as(const acting_as&) = delete;
    acting_as& operator=(const acting_as&) = delete;
};

// The birth time of a file, where the file system keeps one.
std::optional<std::pair<std::int64_t, std::int64_t>> birth_time(const fs::path& path) {
    struct statx info {};
    if (::statx(AT_FDCWD, path.c_str(), 0, STATX_BTIME, &info) != 0 ||
        !(info.stx_mask & STATX_BTIME))
        return std::nullopt;
    return std::pair<std::int64_t, std::int64_t>{info.stx_btime.tv_sec, info.stx_btime.tv_nsec};
}

// No piece of output may end inside a multi-byte character.
bool ends_on_character_boundary(std::string_view text) {
    std::size_t at = 0;
    while (at < text.size()) {
        unsigned char lead = static_cast<unsigned char>(text[at]);
        std::size_t length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
        if (at + length > text.size())
            return false;
        at += length;
    }
    return true;
}

} // namespace

// The cases below read alike on purpose (write, follow, check what is shown and told): each
// tells one thing of a followed log whole, and `duplicates` lists their shape.

BOOST_FIXTURE_TEST_SUITE(following, buildlogs)

BOOST_AUTO_TEST_CASE(a_log_is_shown_from_its_first_byte) {
    append(job_dir / "log", "first line\nsecond line\n");
    follow([&](log_follower& follower) -> asio::awaitable<void> {
        auto out = co_await follower.next();
        BOOST_TEST(out.lines == "first line\nsecond line\n");
        append(job_dir / "log", "third line\n");
        out = co_await follower.next();
        BOOST_TEST(out.lines == "third line\n");
    });
}

BOOST_AUTO_TEST_CASE(a_line_split_across_writes_comes_out_whole) {
    writes_show({{"hel", ""}, {"lo\nwor", "hello\n"}, {"ld\n", "world\n"}});
}

BOOST_AUTO_TEST_CASE(a_utf8_character_split_across_writes_stays_whole) {
    writes_show({{"caf\xC3", ""}, {"\xA9 \xE2\x82", ""}, {"\xAC\n", "caf\xC3\xA9 \xE2\x82\xAC\n"}});
}

BOOST_AUTO_TEST_CASE(an_overlong_line_goes_out_in_prefixed_lines_that_never_cut_a_character) {
    // 4-byte chunks, and characters of 1, 2, 3 and 4 bytes in a line longer than a chunk.
    const std::string line = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"
                             "b\xE2\x82\xAC\xE2\x82\xAC\xC3\xA9z";
    append(job_dir / "task" / "log", line + "\n");
    std::string joined;
    const auto pieces = lines_of(shown_of_finished_job(4));
    BOOST_TEST(pieces.size() > 1u);
    for (std::string_view piece : pieces) {
        BOOST_TEST_CONTEXT("piece: " << piece) {
            BOOST_REQUIRE(piece.starts_with("[task] "));
            BOOST_REQUIRE(piece.ends_with("\n"));
            piece.remove_prefix(7);
            piece.remove_suffix(1);
            BOOST_TEST(!piece.empty());
            BOOST_TEST(ends_on_character_boundary(piece));
            joined += piece;
        }
    }
    BOOST_TEST(joined == line);
}

BOOST_AUTO_TEST_CASE(a_cut_that_falls_just_before_the_line_s_own_end_adds_no_empty_line) {
    append(job_dir / "task" / "log", "abcd\nef\n");
    BOOST_TEST(shown_of_finished_job(4) == "[task] abcd\n[task] ef\n");
}

BOOST_AUTO_TEST_CASE(each_piece_of_a_cut_line_is_a_prefixed_line_so_no_other_line_is_glued_to_it) {
    // Task a starts first, so it is read first; its line is longer than the 4-byte chunk.
    append(job_dir / "a" / "log", "aaaaaa\n");
    append(job_dir / "b" / "log", "b\n");
    const std::string want = "[a] aaaa\n[a] aa\n[b] b\n";
    log_follower follower(ctx.get_executor(), job_dir, 4);
    std::string shown;
    for (int call = 0; call < 10 && shown.size() < want.size(); ++call)
        shown += follower.read_available().lines;
    BOOST_TEST(shown == want);
}

BOOST_AUTO_TEST_CASE(
    other_tasks_go_on_while_a_cut_line_s_writer_stalls_and_its_rest_keeps_its_prefix) {
    run([&]() -> asio::awaitable<void> {
        log_follower follower(ctx.get_executor(), job_dir, 4);
        std::string shown = co_await stall_a_cut_line_beside_a_waiting_one(job_dir, follower);
        append(job_dir / "b" / "log", "ok\n");
        const std::string meanwhile = "[a] aaaa\n[b] b\n[b] ok\n";
        shown += (co_await collect(follower, meanwhile.size() - shown.size())).lines;
        BOOST_TEST(shown == meanwhile);
        append(job_dir / "a" / "log", "a\n");
        BOOST_TEST((co_await follower.next()).lines == "[a] aaa\n");
    });
}

BOOST_AUTO_TEST_CASE(a_cut_line_still_open_when_the_job_ends_gets_its_prefix_and_its_end) {
    run([&]() -> asio::awaitable<void> {
        log_follower follower(ctx.get_executor(), job_dir, 4);
        std::string shown = co_await stall_a_cut_line_beside_a_waiting_one(job_dir, follower);
        follower.stop();
        shown += co_await drain(follower);
        BOOST_TEST(shown == "[a] aaaa\n[b] b\n[a] aa\n");
    });
}

BOOST_AUTO_TEST_CASE(a_cut_line_of_the_job_log_ends_each_piece_with_a_newline) {
    append(job_dir / "log", "0123456789\n");
    append(job_dir / "build" / "log", "next\n");
    BOOST_TEST(shown_of_finished_job(4) == "0123\n4567\n89\n[build] next\n");
}

BOOST_AUTO_TEST_CASE(task_lines_are_prefixed_and_job_lines_are_not) {
    append(job_dir / "log", "cloning\n");
    append(job_dir / "build" / "log", "make\n");
    follows_with("cloning\n[build] make\n");
}

BOOST_AUTO_TEST_CASE(a_finished_job_s_logs_come_out_one_after_the_other_however_long) {
    std::string job, build, test;
    for (int n = 0; n < 200; ++n) {
        job += "job line " + std::to_string(n) + "\n";
        build += "build line " + std::to_string(n) + "\n";
        test += "test line " + std::to_string(n) + "\n";
    }
    append(job_dir / "log", job);
    append(job_dir / "build" / "log", build);
    append(job_dir / "test" / "log", test);
    std::string want = job;
    for (auto [prefix, lines] : {std::pair{"[build] ", &build}, std::pair{"[test] ", &test}})
        for (std::size_t at = 0; at < lines->size();) {
            auto end = lines->find('\n', at) + 1;
            want += prefix + lines->substr(at, end - at);
            at = end;
        }
    // Each log is many times the chunk: it is read in many turns.
    const std::string shown = shown_of_finished_job(64);
    bool build_first = shown.find("[build] ") < shown.find("[test] ");
    if (!build_first) // no birth times: by name, which is the same order here
        BOOST_FAIL("tasks out of order: " << shown.substr(0, 300));
    BOOST_TEST(shown == want);
}

BOOST_AUTO_TEST_CASE(tasks_of_a_finished_job_come_out_in_the_order_they_started) {
    append(job_dir / "log", "cloning\n");
    append(job_dir / "zeta" / "log", "first task\n");
    const auto zeta_born = birth_time(job_dir / "zeta");
    const bool has_birth_time = zeta_born.has_value();
    // Two directories made microseconds apart can share a birth time on a coarse clock:
    // alpha is made until the file system's clock has moved past zeta's birth.
    fs::create_directory(job_dir / "alpha");
    for (int tries = 0; has_birth_time && birth_time(job_dir / "alpha") <= zeta_born; ++tries) {
        BOOST_REQUIRE_MESSAGE(tries < 10'000'000, "the file system's clock never moved");
        fs::remove(job_dir / "alpha");
        fs::create_directory(job_dir / "alpha");
    }
    append(job_dir / "alpha" / "log", "second task\n");
    // Without birth times (some file systems) the order falls back to the names.
    std::string want = has_birth_time ? "cloning\n[zeta] first task\n[alpha] second task\n"
                                      : "cloning\n[alpha] second task\n[zeta] first task\n";
    follows_with(want);
}

BOOST_AUTO_TEST_CASE(a_task_that_starts_late_is_followed_from_its_first_byte) {
    append(job_dir / "log", "setup\n");
    follow([&](log_follower& follower) -> asio::awaitable<void> {
        BOOST_TEST((co_await follower.next()).lines == "setup\n");
        fs::create_directories(job_dir / "test");
        append(job_dir / "test" / "log", "ok 1\nok 2\n");
        co_await expect_shown(follower, "[test] ok 1\n[test] ok 2\n");
        append(job_dir / "test" / "log", "ok 3\n");
        BOOST_TEST((co_await follower.next()).lines == "[test] ok 3\n");
    });
}

BOOST_AUTO_TEST_CASE(a_job_directory_that_appears_later_is_followed) {
    follow([&](log_follower& follower) -> asio::awaitable<void> {
        BOOST_TEST(follower.read_available().lines == "");
        append(job_dir / "log", "started\n");
        co_await expect_shown(follower, "started\n");
    });
}

BOOST_AUTO_TEST_CASE(bytes_are_passed_on_untouched) {
    constexpr char raw[] = "carriage\r\nnul \0 byte\n\xFF\xFE not utf-8\n\x1B[31mred\x1B[0m\n";
    const std::string odd(raw, sizeof raw - 1);
    append(job_dir / "log", odd);
    follows_with(odd);
}

BOOST_AUTO_TEST_CASE(a_truncated_log_is_read_again_from_the_start_with_a_notice) {
    append(job_dir / "log", "one\ntwo\nthree\n");
    follow([&](log_follower& follower) -> asio::awaitable<void> {
        BOOST_TEST((co_await follower.next()).lines == "one\ntwo\nthree\n");
        overwrite(job_dir / "log", "again\n");
        auto notices = co_await expect_shown(follower, "again\n");
        BOOST_REQUIRE(notices.size() == 1u);
        BOOST_TEST(notices[0].find("truncated") != std::string::npos);
    });
}

BOOST_AUTO_TEST_CASE(a_replaced_log_is_read_again_from_the_start_with_a_notice) {
    append(job_dir / "build" / "log", "old\n");
    follow([&](log_follower& follower) -> asio::awaitable<void> {
        BOOST_TEST((co_await follower.next()).lines == "[build] old\n");
        append(job_dir / "build" / "log.new", "new 1\nnew 2\nnew 3\n");
        fs::rename(job_dir / "build" / "log.new", job_dir / "build" / "log");
        auto notices =
            co_await expect_shown(follower, "[build] new 1\n[build] new 2\n[build] new 3\n");
        BOOST_REQUIRE(notices.size() == 1u);
        BOOST_TEST(notices[0].find("build/log was replaced") != std::string::npos);
    });
}

BOOST_AUTO_TEST_CASE(a_log_truncated_and_written_past_where_it_was_read_shows_every_new_byte) {
    // The user's input: 100 lines shown, then, while the tail did not run (SIGSTOP), the log
    // truncated and 300 lines written, three times as many bytes as before.
    const std::string old_lines = numbered_lines("old", 100);
    const std::string new_lines = numbered_lines("new", 300);
    append(job_dir / "build" / "log", old_lines);
    follow([&](log_follower& follower) -> asio::awaitable<void> {
        co_await expect_shown(follower, prefixed("[build] ", old_lines));
        overwrite(job_dir / "build" / "log", new_lines);
        co_await expect_shown_with_notice(follower, prefixed("[build] ", new_lines),
                                          "build/log" + truncated_notice);
    });
}

BOOST_AUTO_TEST_CASE(a_log_truncated_in_the_middle_of_a_line_ends_that_line_first) {
    append(job_dir / "log", "whole\nhalf a li");
    follow([&](log_follower& follower) -> asio::awaitable<void> {
        co_await expect_shown(follower, "whole\n");
        overwrite(job_dir / "log", "a new start, longer than the old content\n");
        // The line cut short ends before the new start, and the truncation is told.
        co_await expect_shown_with_notice(follower,
                                          "half a li\na new start, longer than the old content\n",
                                          "log" + truncated_notice);
    });
}

BOOST_AUTO_TEST_CASE(a_task_directory_removed_and_made_again_is_followed_again_at_once) {
    append(job_dir / "log", "setup\n");
    append(job_dir / "test" / "log", "first run\n");
    follow([&](log_follower& follower) -> asio::awaitable<void> {
        co_await expect_shown(follower, "setup\n[test] first run\n");
        fs::remove_all(job_dir / "test");
        fs::create_directory(job_dir / "test");
        co_await expect_events_seen(follower, job_dir);
        // Only the new directory's watch can report this.
        write_while_it_waits(job_dir / "test" / "log", "second run\n");
        co_await expect_shown_with_notice(follower, "[test] second run\n",
                                          "test/log" + replaced_notice);
    });
}

BOOST_AUTO_TEST_CASE(a_log_that_appears_after_its_task_directory_is_followed_from_its_first_byte) {
    append(job_dir / "log", "setup\n");
    follow([&](log_follower& follower) -> asio::awaitable<void> {
        co_await expect_shown(follower, "setup\n");
        fs::create_directory(job_dir / "deploy");
        co_await expect_events_seen(follower, job_dir);
        write_while_it_waits(job_dir / "deploy" / "log", "copied\nrestarted\n");
        auto notices = co_await expect_shown(follower, "[deploy] copied\n[deploy] restarted\n");
        BOOST_TEST(notices.empty());
    });
}

BOOST_AUTO_TEST_CASE(a_job_directory_removed_and_made_again_is_followed_again) {
    append(job_dir / "log", "first\n");
    follow([&](log_follower& follower) -> asio::awaitable<void> {
        co_await expect_shown(follower, "first\n");
        fs::remove_all(job_dir);
        append(job_dir / "log", "second\n");
        // The job log is found again by its name; the new directory's watch is seen to
        // work only by a task that starts after the follower saw the directory go.
        co_await expect_shown_with_notice(follower, "second\n", "log" + replaced_notice);
        co_await expect_events_seen(follower, job_dir);
        write_while_it_waits(job_dir / "build" / "log", "built\n");
        co_await expect_shown(follower, "[build] built\n");
    });
}

BOOST_AUTO_TEST_CASE(after_stop_everything_written_so_far_comes_out_then_nothing) {
    append(job_dir / "log", "done\nno newline at the end");
    append(job_dir / "deploy" / "log", "half");
    BOOST_TEST(shown_of_finished_job(64 * 1024) == "done\nno newline at the end\n[deploy] half\n");
}

BOOST_AUTO_TEST_CASE(stop_wakes_a_waiting_follower) {
    append(job_dir / "log", "x\n");
    follow([&](log_follower& follower) -> asio::awaitable<void> {
        BOOST_TEST((co_await follower.next()).lines == "x\n");
        asio::post(ctx, [&] {
            append(job_dir / "log", "last\n");
            follower.stop();
        });
        BOOST_TEST(co_await drain(follower) == "last\n");
    });
}

BOOST_AUTO_TEST_CASE(a_large_log_is_read_in_bounded_chunks) {
    std::string big;
    for (int i = 0; i < 20000; ++i)
        big += "line " + std::to_string(i) + " of a long build log\n";
    append(job_dir / "log", big);
    run([&]() -> asio::awaitable<void> {
        log_follower follower(ctx.get_executor(), job_dir, 4096);
        std::string seen;
        std::size_t largest = 0;
        while (seen.size() < big.size()) {
            auto out = co_await follower.next();
            largest = std::max(largest, out.lines.size());
            seen += out.lines;
        }
        BOOST_TEST(seen == big);
        BOOST_TEST(largest <= 4096u);
    });
}

BOOST_AUTO_TEST_CASE(a_big_task_log_goes_out_in_batches_of_several_chunks_of_whole_lines) {
    std::string big, want;
    for (int i = 0; i < 20000; ++i) {
        std::string line = "line " + std::to_string(i) + std::string(i % 37, '.') + "\n";
        big += line;
        want += "[build] " + line;
    }
    append(job_dir / "build" / "log", big);
    run([&]() -> asio::awaitable<void> {
        log_follower follower(ctx.get_executor(), job_dir,
                              jobssh::follow_options{.chunk_size = 4096, .batch_size = 16384});
        std::string seen;
        std::size_t largest = 0;
        bool whole_lines = true;
        while (seen.size() < want.size()) {
            auto out = co_await follower.next();
            largest = std::max(largest, out.lines.size());
            whole_lines = whole_lines && out.lines.view().ends_with('\n');
            seen += out.lines;
        }
        BOOST_TEST(seen == want);
        BOOST_TEST(whole_lines);
        // Read on while a batch had room for another chunk: several chunks (one chunk and
        // its prefixes stay under 8 KiB), and no more than the batch and one chunk.
        BOOST_TEST(largest > 2 * 4096u);
        BOOST_TEST(largest <= 16384u + 4096u);
    });
}

BOOST_AUTO_TEST_CASE(running_out_of_inotify_instances_re_reads_the_logs_on_a_timer_instead) {
    BOOST_REQUIRE_MESSAGE(::geteuid() == 0, "needs root to act as a private user id");
    syslog_listener syslog;
    // Another process of the same user holds every inotify instance the kernel allows it.
    const uid_t uid = static_cast<uid_t>(64000 + ::getpid() % 1000);
    jobssh::testing::inotify_instance_holder holder(uid);
    BOOST_TEST_MESSAGE("the holder got " << holder.instances() << " instances, then "
                                         << std::strerror(holder.error()));
    BOOST_REQUIRE(holder.error() == EMFILE);
    BOOST_REQUIRE(holder.instances() == jobssh::testing::max_user_instances());
    std::optional<log_follower> follower;
    {
        acting_as user(uid);
        follower.emplace(ctx.get_executor(), job_dir,
                         jobssh::follow_options{.chunk_size = 4096,
                                                .poll_interval = std::chrono::milliseconds(50)});
    }
    BOOST_TEST(follower->polling());
    // The operator is told, once.
    const auto records = syslog.received();
    BOOST_TEST(records ==
                   std::vector<std::string>{
                       "<27>warning: inotify_init1: Too many open files; following the logs "
                       "by re-reading them every 50 ms (raise sysctl "
                       "fs.inotify.max_user_instances)"},
               boost::test_tools::per_element());
    // Written after it started, in a task directory that did not exist yet: only the
    // timer can have noticed.
    run([&]() -> asio::awaitable<void> {
        append(job_dir / "log", "first\n");
        append(job_dir / "build" / "log", "made\n");
        std::string seen;
        while (seen.find("[build] made\n") == std::string::npos ||
               seen.find("first\n") == std::string::npos)
            seen += (co_await follower->next()).lines;
        BOOST_TEST(seen.size() == std::string("first\n[build] made\n").size());
        follower->stop();
        auto rest = co_await follower->next();
        BOOST_TEST(rest.lines == "");
    });
}

BOOST_AUTO_TEST_SUITE_END()
