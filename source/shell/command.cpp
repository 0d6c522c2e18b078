#include <charconv>
#include <cstdlib>
#include <jobssh/common/failure.hpp>
#include <jobssh/shell/command.hpp>

namespace jobssh {

// A port of Python's shlex in posix mode with whitespace_split, which is what
// buildsrht-shell splits SSH_ORIGINAL_COMMAND with; its quirks are kept on purpose:
// inside double quotes a backslash escapes only `"` and `\`, and a quoted empty string
// is a word of its own.
std::optional<std::vector<std::string>> shlex_split(std::string_view text) {
    enum class state { between, word, single_quoted, double_quoted };
    std::vector<std::string> words;
    std::string word;
    state at = state::between;
    bool quoted = false; // the word so far had quotes: "" still makes a word

    auto end_word = [&] {
        if (!word.empty() || quoted)
            words.push_back(std::move(word));
        word.clear();
        quoted = false;
        at = state::between;
    };

    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        switch (at) {
        case state::between:
        case state::word:
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                if (at == state::word)
                    end_word();
            } else if (c == '\\') {
                if (i + 1 == text.size())
                    return std::nullopt; // "No escaped character"
                word += text[++i];
                at = state::word;
            } else if (c == '\'') {
                quoted = true;
                at = state::single_quoted;
            } else if (c == '"') {
                quoted = true;
                at = state::double_quoted;
            } else {
                word += c;
                at = state::word;
            }
            break;
        case state::single_quoted:
            if (c == '\'')
                at = state::word;
            else
                word += c;
            break;
        case state::double_quoted:
            if (c == '"') {
                at = state::word;
            } else if (c == '\\') {
                if (i + 1 == text.size())
                    return std::nullopt;
                const char next = text[++i];
                if (next != '"' && next != '\\')
                    word += '\\';
                word += next;
            } else {
                word += c;
            }
            break;
        }
    }
    if (at == state::single_quoted || at == state::double_quoted)
        return std::nullopt; // "No closing quotation"
    end_word();
    return words;
}

namespace {

job_id job_argument(const std::string& text) {
    if (auto job = parse_job_id(text))
        return *job;
    throw failure_error(failure::bad_job_id, "not a job id: " + text);
}

// A session or recording number: 1, 2, ….
std::optional<unsigned> number_argument(const std::string& text) {
    unsigned n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || n == 0)
        return std::nullopt;
    return n;
}

command parse_replay(const std::vector<std::string>& words) {
    if (words.size() < 2)
        throw failure_error(failure::usage, "replay without a job id");
    replay_command replay{job_argument(words[1]), std::nullopt, 1.0};
    for (std::size_t i = 2; i < words.size(); ++i) {
        if (words[i] == "--speed" && i + 1 < words.size()) {
            const std::string& text = words[++i];
            char* end = nullptr;
            replay.speed = std::strtod(text.c_str(), &end);
            if (text.empty() || *end != '\0' || !(replay.speed >= 0.1 && replay.speed <= 100))
                throw failure_error(failure::usage, "--speed takes a number from 0.1 to 100");
        } else if (auto n = number_argument(words[i]); n && !replay.recording) {
            replay.recording = n;
        } else {
            throw failure_error(failure::usage, "replay: unexpected " + words[i]);
        }
    }
    return replay;
}

} // namespace

std::optional<job_id> job_of(const command& cmd) {
    return std::visit(
        [](const auto& c) -> std::optional<job_id> {
            if constexpr (requires { c.job; })
                return c.job;
            else
                return std::nullopt;
        },
        cmd);
}

command parse_command(std::string_view original_command) {
    auto words = shlex_split(original_command);
    if (!words)
        throw failure_error(failure::usage, "unbalanced quotes or a trailing backslash");
    if (words->empty())
        throw failure_error(failure::usage, "no command");

    const std::string& verb = words->front();
    if (verb == "help")
        return help_command{};
    if (verb == "tail") {
        if (words->size() != 2)
            throw failure_error(failure::usage, "tail takes one job id");
        return tail_command{job_argument((*words)[1])};
    }
    if (verb == "connect") {
        if (words->size() < 2)
            throw failure_error(failure::usage, "connect without a job id");
        connect_command connect{job_argument((*words)[1]), {}};
        auto first = words->begin() + 2;
        if (first != words->end() && *first == "--")
            ++first;
        connect.argv.assign(first, words->end());
        return connect;
    }
    if (verb == "watch") {
        if (words->size() < 2 || words->size() > 3)
            throw failure_error(failure::usage, "watch takes a job id and a session number");
        watch_command watch{job_argument((*words)[1]), std::nullopt};
        if (words->size() == 3) {
            watch.session = number_argument((*words)[2]);
            if (!watch.session)
                throw failure_error(failure::usage, "watch: not a session number");
        }
        return watch;
    }
    if (verb == "replay")
        return parse_replay(*words);
    throw failure_error(failure::usage, "unknown command: " + verb);
}

} // namespace jobssh
