// The asciicast writer and reader: what players load, byte for byte, and a full disk.
#define BOOST_TEST_MODULE asciicast
#include "scratch_dir.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <jobssh/common/config.hpp>
#include <jobssh/recording/asciicast.hpp>
#include <jobssh/recording/playback.hpp>
#include <jobssh/recording/session_files.hpp>
#include <jobssh/recording/session_recorder.hpp>
#include <sstream>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

using jobssh::asciicast_writer;
using jobssh::parse_event;
using jobssh::unique_fd;
using jobssh::testing::lines_in;
using jobssh::testing::read_file;
using jobssh::testing::scratch_dir;

namespace {

// The output events' data of a file, each event on its own.
std::vector<std::string> outputs(const std::string& text) {
    std::vector<std::string> data;
    auto lines = lines_in(text);
    for (std::size_t i = 1; i < lines.size(); ++i) {
        auto event = parse_event(lines[i]);
        BOOST_TEST_REQUIRE(event.has_value(), lines[i]);
        if (event->code == 'o')
            data.push_back(event->data);
    }
    return data;
}

// The one event of a recording (after its header line).
jobssh::asciicast_event the_one_event_of(const std::filesystem::path& file) {
    auto lines = lines_in(read_file(file));
    BOOST_REQUIRE_EQUAL(lines.size(), 2u);
    auto event = parse_event(lines[1]);
    BOOST_REQUIRE(event);
    return *event;
}

// A configuration whose recordings and state-dir are in a scratch directory.
struct recording_world {
    scratch_dir dir;
    jobssh::config cfg;
    recording_world() {
        cfg.recordings = dir.path() / "recordings";
        cfg.state_dir = dir.path() / "state";
    }
};

struct cast_file {
    scratch_dir dir;
    std::filesystem::path path = dir.path() / "session.cast";
    asciicast_writer writer{
        unique_fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600)),
        jobssh::asciicast_header{{30, 100}, 1764500000, "xterm", "build job #7"},
        std::chrono::steady_clock::now()};
};

} // namespace

BOOST_AUTO_TEST_CASE(the_header_says_size_time_term_and_title) {
    cast_file cast;
    auto header = jobssh::parse_header(lines_in(read_file(cast.path)).at(0));
    BOOST_REQUIRE(header);
    BOOST_TEST(header->size.columns == 100);
    BOOST_TEST(header->size.rows == 30);
    BOOST_TEST(header->timestamp == 1764500000);
    BOOST_TEST(header->term == "xterm");
    BOOST_TEST(header->title == "build job #7");
}

BOOST_AUTO_TEST_CASE(output_with_quotes_escapes_and_control_bytes_reads_back_unchanged) {
    cast_file cast;
    std::string screen = "a \"quoted\" \\ line\r\n\x1b[1;31mred\x1b[0m\t\x07\x7f";
    cast.writer.output(screen);
    auto data = outputs(read_file(cast.path));
    BOOST_REQUIRE_EQUAL(data.size(), 1u);
    BOOST_TEST(data[0] == screen);
}

BOOST_AUTO_TEST_CASE(a_character_split_across_reads_stays_whole_in_one_event) {
    cast_file cast;
    std::string euro = "\xe2\x82\xac"; // €
    cast.writer.output("price: \xe2");
    cast.writer.output("\x82");
    cast.writer.output("\xac 5\r\n");
    cast.writer.output("\xf0\x9f");
    cast.writer.output("\x98\x80");
    auto data = outputs(read_file(cast.path));
    BOOST_REQUIRE_EQUAL(data.size(), 3u);
    BOOST_TEST(data[0] == "price: ");
    BOOST_TEST(data[1] == euro + " 5\r\n");
    BOOST_TEST(data[2] == "\xf0\x9f\x98\x80");
}

BOOST_AUTO_TEST_CASE(bytes_that_are_not_utf8_become_replacement_characters_in_valid_json) {
    cast_file cast;
    cast.writer.output("latin-1 caf\xe9!\xff\xc0\xaf ok");
    cast.writer.output("\xed\xa0\x80 surrogate");
    auto text = read_file(cast.path);
    for (const auto& line : lines_in(text)) {
        boost::system::error_code ec;
        boost::json::parse(line, ec);
        BOOST_TEST(!ec, line);
    }
    auto data = outputs(text);
    BOOST_REQUIRE_EQUAL(data.size(), 2u);
    std::string replacement = "\xef\xbf\xbd";
    BOOST_TEST(data[0] ==
               "latin-1 caf" + replacement + "!" + replacement + replacement + replacement + " ok");
    BOOST_TEST(data[1].ends_with(" surrogate"));
    BOOST_TEST(data[1].find('\xed') == std::string::npos);
}

BOOST_AUTO_TEST_CASE(resizes_are_columns_x_rows) {
    cast_file cast;
    cast.writer.resize({40, 120});
    auto event = the_one_event_of(cast.path);
    BOOST_TEST(event.code == 'r');
    BOOST_TEST(event.data == "120x40");
}

BOOST_AUTO_TEST_CASE(a_full_disk_stops_the_recording_without_throwing) {
    asciicast_writer writer(unique_fd(::open("/dev/full", O_WRONLY)), jobssh::asciicast_header{},
                            std::chrono::steady_clock::now());
    BOOST_TEST(writer.error() == ENOSPC);
    writer.output("more");
    writer.resize({1, 1});
    BOOST_TEST(writer.error() == ENOSPC);
}

BOOST_AUTO_TEST_CASE(a_recorded_session_is_private_and_live_until_its_recorder_goes) {
    recording_world world;
    auto& [dir, cfg] = world;
    std::filesystem::path file;
    {
        jobssh::session_recorder recorder(cfg, 9, "alice");
        BOOST_TEST(recorder.banner_note() == "This session is recorded.\n");
        recorder.begin({24, 80});
        recorder.output("hello\r\n");
        recorder.input("secret");
        file = recorder.recording();
        BOOST_TEST(file.parent_path() == cfg.recordings / "9");
        BOOST_TEST(((std::filesystem::status(file).permissions() & std::filesystem::perms::all) ==
                    (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write)));
        BOOST_TEST(((std::filesystem::status(file.parent_path()).permissions() &
                     std::filesystem::perms::all) == std::filesystem::perms::owner_all));
        auto live = jobssh::live_sessions(cfg, 9);
        BOOST_REQUIRE_EQUAL(live.size(), 1u);
        BOOST_TEST(live[0].user == "alice");
    }
    BOOST_TEST(jobssh::live_sessions(cfg, 9).empty());
    auto recordings = jobssh::job_recordings(cfg, 9);
    BOOST_REQUIRE_EQUAL(recordings.size(), 1u);
    auto text = read_file(file);
    BOOST_TEST((outputs(text) == std::vector<std::string>{"hello\r\n"}));
    BOOST_TEST(text.find("secret") == std::string::npos); // record-input is off
}

BOOST_AUTO_TEST_CASE(with_record_input_the_keys_typed_are_input_events) {
    recording_world world;
    auto& [dir, cfg] = world;
    cfg.record_input = true;
    cfg.watch = false;
    std::filesystem::path file;
    {
        jobssh::session_recorder recorder(cfg, 3, "alice");
        recorder.begin({24, 80});
        recorder.input("ls\r");
        file = recorder.recording();
        BOOST_TEST(jobssh::live_sessions(cfg, 3).empty()); // watch = no: nobody watches
    }
    auto event = the_one_event_of(file);
    BOOST_TEST(event.code == 'i');
    BOOST_TEST(event.data == "ls\r");
}

BOOST_AUTO_TEST_CASE(a_full_disk_ends_the_recording_once_and_leaves_a_file_players_load) {
    recording_world world;
    auto& [dir, cfg] = world;
    // A file size limit fails writes as a full disk does (EFBIG instead of ENOSPC).
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit before{};
    ::getrlimit(RLIMIT_FSIZE, &before);
    rlimit small = before;
    small.rlim_cur = 4096;
    // What the recorder tells the user goes to our stderr: kept in a file meanwhile.
    auto told_file = dir.path() / "stderr";
    int saved_stderr = ::dup(STDERR_FILENO);
    int told = ::open(told_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(told, STDERR_FILENO);
    std::filesystem::path file;
    {
        jobssh::session_recorder recorder(cfg, 5, "alice");
        BOOST_REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
        recorder.begin({24, 80});
        for (int i = 0; i < 100; ++i)
            recorder.output(std::string(100, 'x') + "\r\n");
        BOOST_REQUIRE(::setrlimit(RLIMIT_FSIZE, &before) == 0);
        file = recorder.recording();
    }
    ::dup2(saved_stderr, STDERR_FILENO);
    ::close(saved_stderr);
    ::close(told);

    std::string message = read_file(told_file);
    BOOST_TEST(message.find("[jobssh] This session is no longer recorded") != std::string::npos,
               message);
    BOOST_TEST(message.find("no longer recorded") == message.rfind("no longer recorded"));
    auto text = read_file(file);
    BOOST_TEST(text.size() <= 4096u);
    BOOST_TEST(text.ends_with("\n"));
    auto shown = outputs(text); // every line still parses
    BOOST_TEST(!shown.empty());
    BOOST_TEST(shown.size() < 100u);
}

BOOST_AUTO_TEST_CASE(a_watcher_starts_at_the_last_clear_or_at_a_line) {
    BOOST_TEST(jobssh::recent_screen("old\r\n\x1b[H\x1b[2Jnew screen", true) ==
               "\x1b[H\x1b[2Jnew screen");
    BOOST_TEST(jobssh::recent_screen("rtial line\r\nwhole line\r\n", true) == "whole line\r\n");
    BOOST_TEST(jobssh::recent_screen("first line\r\n$ ", false) == "first line\r\n$ ");
}
