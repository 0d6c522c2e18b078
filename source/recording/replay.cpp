#include "viewer.hpp"

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <fstream>
#include <jobssh/common/config.hpp>
#include <jobssh/common/default_token.hpp>
#include <jobssh/common/failure.hpp>
#include <jobssh/common/posix.hpp>
#include <jobssh/common/user_output.hpp>
#include <jobssh/recording/asciicast.hpp>
#include <jobssh/recording/playback.hpp>
#include <jobssh/recording/session_files.hpp>
#include <sstream>
#include <unistd.h>

namespace jobssh {

namespace asio = boost::asio;

namespace {

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return std::move(text).str();
}

// Every whole line's event, in order; a cut-off last line (a killed session) is left out.
std::vector<asciicast_event> events_of(std::string_view text) {
    std::vector<asciicast_event> events;
    std::size_t at = text.find('\n');
    while (at != std::string_view::npos && at + 1 < text.size()) {
        std::size_t end = text.find('\n', at + 1);
        if (end == std::string_view::npos)
            break;
        if (auto event = parse_event(text.substr(at + 1, end - at - 1)))
            events.push_back(std::move(*event));
        at = end;
    }
    return events;
}

// How long the recording lasts: its last event's time.
std::chrono::microseconds length_of(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    auto size = static_cast<long long>(in.tellg());
    long long from = std::max<long long>(0, size - 64 * 1024);
    in.seekg(from);
    std::string tail(static_cast<std::size_t>(size - from), '\0');
    in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
    // The last whole line that is an event.
    std::string_view text(tail);
    while (!text.empty()) {
        if (text.back() == '\n')
            text.remove_suffix(1);
        auto start = text.rfind('\n');
        auto line = start == std::string_view::npos ? text : text.substr(start + 1);
        if (auto event = parse_event(line))
            return event->time;
        if (start == std::string_view::npos)
            break;
        text = text.substr(0, start + 1);
    }
    return std::chrono::microseconds{0};
}

std::string length_in_words(std::chrono::microseconds length) {
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(length).count();
    if (seconds < 60)
        return std::to_string(seconds) + " s";
    if (seconds < 3600)
        return std::to_string(seconds / 60) + " min " + std::to_string(seconds % 60) + " s";
    return std::to_string(seconds / 3600) + " h " + std::to_string(seconds % 3600 / 60) + " min";
}

std::string listing(job_id job, const std::vector<session_file>& recordings) {
    if (recordings.empty())
        return "Job #" + std::to_string(job) + " has no recorded sessions.\n";
    std::string text = "Recorded sessions of job #" + std::to_string(job) + ":\n";
    for (std::size_t i = 0; i < recordings.size(); ++i)
        text += "  " + std::to_string(i + 1) + "  " + utc_minute(recordings[i].start) + "  " +
                recordings[i].user + "  " + length_in_words(length_of(recordings[i].path)) + "\n";
    text += "Play one with: replay " + std::to_string(job) + " <n> [--speed <x>]\n";
    return text;
}

asio::awaitable<int> play(std::vector<asciicast_event> events, double speed, user_output& out) {
    auto executor = co_await asio::this_coro::executor;
    asio::steady_timer timer(executor);
    std::chrono::microseconds previous{0};
    for (const auto& event : events) {
        auto pause = std::min<std::chrono::microseconds>(event.time - previous, longest_pause);
        previous = event.time;
        if (event.code != 'o')
            continue; // keys and resizes: the screen shows their effect
        if (pause.count() > 0) {
            timer.expires_after(std::chrono::microseconds(
                static_cast<long long>(static_cast<double>(pause.count()) / speed)));
            co_await timer.async_wait(default_token());
        }
        try {
            co_await out.write(event.data);
        } catch (const user_hung_up&) {
            co_return 128 + SIGPIPE;
        }
    }
    co_return 0;
}

} // namespace

asio::awaitable<int> replay_recording(const config& cfg, job_id job,
                                      std::optional<unsigned> recording, double speed,
                                      user_output& out) {
    auto recordings = job_recordings(cfg, job);
    if (!recording) {
        write_all(STDOUT_FILENO, listing(job, recordings));
        co_return 0;
    }
    if (*recording > recordings.size())
        throw failure_error(failure::no_recording,
                            "no recording " + std::to_string(*recording) + " of the job");
    std::string text = read_file(recordings[*recording - 1].path);
    auto header = parse_header(std::string_view(text).substr(0, text.find('\n')));
    if (!header)
        throw failure_error(failure::no_recording, "not an asciicast v2 file: " +
                                                       recordings[*recording - 1].path.string());

    viewer::viewer_terminal terminal;
    const session_file& chosen = recordings[*recording - 1];
    terminal.say("[jobssh] Session " + std::to_string(*recording) + " of job #" +
                 std::to_string(job) + " (" + chosen.user + ", " + utc_minute(chosen.start) +
                 "); q or Ctrl-C stops.");
    co_return co_await viewer::show_until_viewer_leaves(play(events_of(text), speed, out), terminal,
                                                        "[jobssh] End of the recording.",
                                                        "[jobssh] Replay stopped.");
}

} // namespace jobssh
