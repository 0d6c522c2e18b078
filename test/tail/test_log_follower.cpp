// The log follower on real files in a temporary buildlogs directory, on its own io_context.
#define BOOST_TEST_MODULE log_follower
#include "io_context_fixture.hpp"
#include "scratch_dir.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <jobssh/common/failure.hpp>
#include <jobssh/tail/log_follower.hpp>
#include <optional>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using jobssh::follow_output;
using jobssh::log_follower;

namespace {

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
};

void append(const fs::path& file, std::string_view bytes) {
    fs::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::binary | std::ios::app);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
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

// Task a (read first: it starts first) writes a line longer than the follower's 4-byte chunk
// and stalls in it; task b has a whole line waiting. Returns what the user saw.
asio::awaitable<std::string> stall_a_cut_line_beside_a_waiting_one(const fs::path& job_dir,
                                                                   log_follower& follower) {
    append(job_dir / "a" / "log", "aaaaaa");
    append(job_dir / "b" / "log", "b\n");
    std::string shown((co_await follower.next()).lines);
    BOOST_TEST(shown == "[a] aaaa");
    co_return shown;
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

BOOST_FIXTURE_TEST_SUITE(following, buildlogs)

BOOST_AUTO_TEST_CASE(a_log_is_shown_from_its_first_byte) {
    append(job_dir / "log", "first line\nsecond line\n");
    run([&]() -> asio::awaitable<void> {
        log_follower follower(ctx.get_executor(), job_dir);
        auto out = co_await follower.next();
        BOOST_TEST(out.lines == "first line\nsecond line\n");
        append(job_dir / "log", "third line\n");
        out = co_await follower.next();
        BOOST_TEST(out.lines == "third line\n");
    });
}

BOOST_AUTO_TEST_CASE(a_line_split_across_writes_comes_out_whole) {
    run([&]() -> asio::awaitable<void> {
        append(job_dir / "log", "");
        log_follower follower(ctx.get_executor(), job_dir);
        append(job_dir / "log", "hel");
        BOOST_TEST(follower.read_available().lines == "");
        append(job_dir / "log", "lo\nwor");
        auto out = co_await follower.next();
        BOOST_TEST(out.lines == "hello\n");
        append(job_dir / "log", "ld\n");
        out = co_await follower.next();
        BOOST_TEST(out.lines == "world\n");
    });
}

BOOST_AUTO_TEST_CASE(a_utf8_character_split_across_writes_stays_whole) {
    run([&]() -> asio::awaitable<void> {
        append(job_dir / "log", "");
        log_follower follower(ctx.get_executor(), job_dir);
        append(job_dir / "log", "caf\xC3");
        BOOST_TEST(follower.read_available().lines == "");
        append(job_dir / "log", "\xA9 \xE2\x82");
        BOOST_TEST(follower.read_available().lines == "");
        append(job_dir / "log", "\xAC\n");
        auto out = co_await follower.next();
        BOOST_TEST(out.lines == "caf\xC3\xA9 \xE2\x82\xAC\n");
    });
}

BOOST_AUTO_TEST_CASE(an_overlong_line_goes_out_in_pieces_that_never_cut_a_character) {
    // 4-byte chunks, and characters of 1, 2, 3 and 4 bytes in a line with no end in sight.
    const std::string line = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"
                             "b\xE2\x82\xAC\xE2\x82\xAC\xC3\xA9z";
    run([&]() -> asio::awaitable<void> {
        append(job_dir / "task" / "log", line);
        log_follower follower(ctx.get_executor(), job_dir, 4);
        std::string seen;
        while (seen.size() < line.size() - 4) {
            auto out = co_await follower.next();
            BOOST_TEST(ends_on_character_boundary(out.lines), "piece: " << out.lines);
            seen += out.lines;
        }
        append(job_dir / "task" / "log", "\n");
        while (!seen.ends_with("\n"))
            seen += (co_await follower.next()).lines;
        BOOST_TEST(seen == "[task] " + line + "\n");
    });
}

BOOST_AUTO_TEST_CASE(a_line_cut_in_pieces_gets_no_other_task_s_line_glued_to_it) {
    // Task a starts first, so it is read first; its line is longer than the 4-byte chunk.
    append(job_dir / "a" / "log", "aaaaaa\n");
    append(job_dir / "b" / "log", "b\n");
    const std::string want = "[a] aaaaaa\n[b] b\n";
    log_follower follower(ctx.get_executor(), job_dir, 4);
    std::string shown;
    for (int call = 0; call < 10 && shown.size() < want.size(); ++call)
        shown += follower.read_available().lines;
    BOOST_TEST(shown == want);
}

BOOST_AUTO_TEST_CASE(another_task_s_line_waits_while_a_cut_line_s_writer_stalls) {
    run([&]() -> asio::awaitable<void> {
        log_follower follower(ctx.get_executor(), job_dir, 4);
        std::string shown = co_await stall_a_cut_line_beside_a_waiting_one(job_dir, follower);
        append(job_dir / "b" / "log", "b again\n");
        for (int call = 0; call < 5; ++call)
            shown += follower.read_available().lines;
        BOOST_TEST(shown == "[a] aaaa", "nothing may come between the pieces of a line");
        append(job_dir / "a" / "log", "a\n");
        const std::string want = "[a] aaaaaaa\n[b] b\n[b] b again\n";
        shown += (co_await collect(follower, want.size() - shown.size())).lines;
        BOOST_TEST(shown == want);
    });
}

BOOST_AUTO_TEST_CASE(a_cut_line_still_open_when_the_job_ends_is_ended_before_the_other_lines) {
    run([&]() -> asio::awaitable<void> {
        log_follower follower(ctx.get_executor(), job_dir, 4);
        std::string shown = co_await stall_a_cut_line_beside_a_waiting_one(job_dir, follower);
        follower.stop();
        shown += co_await drain(follower);
        BOOST_TEST(shown == "[a] aaaaaa\n[b] b\n");
    });
}

BOOST_AUTO_TEST_CASE(task_lines_are_prefixed_and_job_lines_are_not) {
    append(job_dir / "log", "cloning\n");
    append(job_dir / "build" / "log", "make\n");
    run([&]() -> asio::awaitable<void> {
        log_follower follower(ctx.get_executor(), job_dir);
        auto out = co_await collect(follower, std::string("cloning\n[build] make\n").size());
        BOOST_TEST(out.lines == "cloning\n[build] make\n");
    });
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
    run([&]() -> asio::awaitable<void> {
        // Each log is many times the chunk: it is read in many turns.
        log_follower follower(ctx.get_executor(), job_dir, 64);
        follower.stop();
        std::string shown = co_await drain(follower);
        bool build_first = shown.find("[build] ") < shown.find("[test] ");
        if (!build_first) // no birth times: by name, which is the same order here
            BOOST_FAIL("tasks out of order: " << shown.substr(0, 300));
        BOOST_TEST(shown == want);
    });
}

BOOST_AUTO_TEST_CASE(tasks_of_a_finished_job_come_out_in_the_order_they_started) {
    append(job_dir / "log", "cloning\n");
    append(job_dir / "zeta" / "log", "first task\n");
    append(job_dir / "alpha" / "log", "second task\n");
    struct statx info {};
    bool has_birth_time =
        ::statx(AT_FDCWD, (job_dir / "zeta").c_str(), 0, STATX_BTIME, &info) == 0 &&
        (info.stx_mask & STATX_BTIME);
    // Without birth times (some file systems) the order falls back to the names.
    std::string want = has_birth_time ? "cloning\n[zeta] first task\n[alpha] second task\n"
                                      : "cloning\n[alpha] second task\n[zeta] first task\n";
    run([&]() -> asio::awaitable<void> {
        log_follower follower(ctx.get_executor(), job_dir);
        auto out = co_await collect(follower, want.size());
        BOOST_TEST(out.lines == want);
    });
}

BOOST_AUTO_TEST_CASE(a_task_that_starts_late_is_followed_from_its_first_byte) {
    append(job_dir / "log", "setup\n");
    run([&]() -> asio::awaitable<void> {
        log_follower follower(ctx.get_executor(), job_dir);
        BOOST_TEST((co_await follower.next()).lines == "setup\n");
        fs::create_directories(job_dir / "test");
        append(job_dir / "test" / "log", "ok 1\nok 2\n");
        auto out = co_await collect(follower, std::string("[test] ok 1\n[test] ok 2\n").size());
        BOOST_TEST(out.lines == "[test] ok 1\n[test] ok 2\n");
        append(job_dir / "test" / "log", "ok 3\n");
        BOOST_TEST((co_await follower.next()).lines == "[test] ok 3\n");
    });
}

BOOST_AUTO_TEST_CASE(a_job_directory_that_appears_later_is_followed) {
    run([&]() -> asio::awaitable<void> {
        log_follower follower(ctx.get_executor(), job_dir);
        BOOST_TEST(follower.read_available().lines == "");
        append(job_dir / "log", "started\n");
        auto out = co_await collect(follower, std::string("started\n").size());
        BOOST_TEST(out.lines == "started\n");
    });
}

BOOST_AUTO_TEST_CASE(bytes_are_passed_on_untouched) {
    constexpr char raw[] = "carriage\r\nnul \0 byte\n\xFF\xFE not utf-8\n\x1B[31mred\x1B[0m\n";
    const std::string odd(raw, sizeof raw - 1);
    append(job_dir / "log", odd);
    run([&]() -> asio::awaitable<void> {
        log_follower follower(ctx.get_executor(), job_dir);
        auto out = co_await collect(follower, odd.size());
        BOOST_TEST(out.lines == odd);
    });
}

BOOST_AUTO_TEST_CASE(a_truncated_log_is_read_again_from_the_start_with_a_notice) {
    append(job_dir / "log", "one\ntwo\nthree\n");
    run([&]() -> asio::awaitable<void> {
        log_follower follower(ctx.get_executor(), job_dir);
        BOOST_TEST((co_await follower.next()).lines == "one\ntwo\nthree\n");
        overwrite(job_dir / "log", "again\n");
        auto out = co_await collect(follower, std::string("again\n").size());
        BOOST_TEST(out.lines == "again\n");
        BOOST_REQUIRE(out.notices.size() == 1u);
        BOOST_TEST(out.notices[0].find("truncated") != std::string::npos);
    });
}

BOOST_AUTO_TEST_CASE(a_replaced_log_is_read_again_from_the_start_with_a_notice) {
    append(job_dir / "build" / "log", "old\n");
    run([&]() -> asio::awaitable<void> {
        log_follower follower(ctx.get_executor(), job_dir);
        BOOST_TEST((co_await follower.next()).lines == "[build] old\n");
        append(job_dir / "build" / "log.new", "new 1\nnew 2\nnew 3\n");
        fs::rename(job_dir / "build" / "log.new", job_dir / "build" / "log");
        auto out = co_await collect(follower, std::string("[build] new 1\n[build] new 2\n"
                                                          "[build] new 3\n")
                                                  .size());
        BOOST_TEST(out.lines == "[build] new 1\n[build] new 2\n[build] new 3\n");
        BOOST_REQUIRE(out.notices.size() == 1u);
        BOOST_TEST(out.notices[0].find("build/log was replaced") != std::string::npos);
    });
}

BOOST_AUTO_TEST_CASE(after_stop_everything_written_so_far_comes_out_then_nothing) {
    append(job_dir / "log", "done\nno newline at the end");
    append(job_dir / "deploy" / "log", "half");
    run([&]() -> asio::awaitable<void> {
        log_follower follower(ctx.get_executor(), job_dir);
        follower.stop();
        BOOST_TEST(co_await drain(follower) == "done\nno newline at the end\n[deploy] half\n");
    });
}

BOOST_AUTO_TEST_CASE(stop_wakes_a_waiting_follower) {
    append(job_dir / "log", "x\n");
    run([&]() -> asio::awaitable<void> {
        log_follower follower(ctx.get_executor(), job_dir);
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
    // No descriptor left for inotify: the same errno (EMFILE) as the per-user instance limit.
    // The io_context's reactor opens its own descriptors first.
    asio::posix::stream_descriptor warm_up(ctx);
    rlimit original{};
    BOOST_REQUIRE(::getrlimit(RLIMIT_NOFILE, &original) == 0);
    int lowest_free = ::dup(0);
    BOOST_REQUIRE(lowest_free >= 0);
    ::close(lowest_free);
    rlimit tight = original;
    tight.rlim_cur = static_cast<rlim_t>(lowest_free);
    BOOST_REQUIRE(::setrlimit(RLIMIT_NOFILE, &tight) == 0);
    std::optional<log_follower> follower;
    try {
        follower.emplace(ctx.get_executor(), job_dir,
                         jobssh::follow_options{.chunk_size = 4096,
                                                .poll_interval = std::chrono::milliseconds(50)});
    } catch (const std::exception& error) {
        BOOST_TEST_MESSAGE("refused: " << error.what());
    }
    ::setrlimit(RLIMIT_NOFILE, &original);
    BOOST_REQUIRE(follower.has_value());
    BOOST_TEST(follower->polling());
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
