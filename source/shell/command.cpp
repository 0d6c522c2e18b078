#include <charconv>
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

} // namespace

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
    throw failure_error(failure::usage, "unknown command: " + verb);
}

} // namespace jobssh
