#include <charconv>
#include <cstdlib>
#include <jobssh/common/failure.hpp>
#include <jobssh/shell/command.hpp>
#include <jobssh/shell/file_transfer.hpp>

namespace jobssh {

namespace {

bool shlex_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

enum class scan { word, end, unbalanced };

struct scanned {
    scan what = scan::end;
    std::string word;
    std::size_t begin = 0; // where the word begins in the text
    std::size_t next = 0;  // just past it
};

// The next word at or after `from`. A port of Python's shlex in posix mode with
// whitespace_split, which is what buildsrht-shell splits SSH_ORIGINAL_COMMAND with; its
// quirks are kept on purpose: inside double quotes a backslash escapes only `"` and `\`,
// and a quoted empty string is a word of its own.
scanned scan_word(std::string_view text, std::size_t from) {
    enum class state { word, single_quoted, double_quoted };
    scanned out;
    std::size_t i = from;
    while (i < text.size() && shlex_space(text[i]))
        ++i;
    out.begin = i;
    if (i == text.size())
        return out;
    out.what = scan::word;
    auto unbalanced = [&] {
        out.what = scan::unbalanced;
        return out;
    };
    state at = state::word;
    for (; i < text.size(); ++i) {
        const char c = text[i];
        switch (at) {
        case state::word:
            if (shlex_space(c)) {
                out.next = i;
                return out;
            } else if (c == '\\') {
                if (i + 1 == text.size())
                    return unbalanced(); // "No escaped character"
                out.word += text[++i];
            } else if (c == '\'') {
                at = state::single_quoted;
            } else if (c == '"') {
                at = state::double_quoted;
            } else {
                out.word += c;
            }
            break;
        case state::single_quoted:
            if (c == '\'')
                at = state::word;
            else
                out.word += c;
            break;
        case state::double_quoted:
            if (c == '"') {
                at = state::word;
            } else if (c == '\\') {
                if (i + 1 == text.size())
                    return unbalanced();
                const char next = text[++i];
                if (next != '"' && next != '\\')
                    out.word += '\\';
                out.word += next;
            } else {
                out.word += c;
            }
            break;
        }
    }
    if (at != state::word)
        return unbalanced(); // "No closing quotation"
    out.next = i;
    return out;
}

} // namespace

std::optional<std::vector<std::string>> shlex_split(std::string_view text) {
    std::vector<std::string> words;
    for (scanned at = scan_word(text, 0); at.what != scan::end; at = scan_word(text, at.next)) {
        if (at.what == scan::unbalanced)
            return std::nullopt;
        words.push_back(std::move(at.word));
    }
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

// What sshd hands a forced command for `scp` (legacy protocol: `scp -t`/`scp -f`), for the
// sftp subsystem (scp's default protocol since OpenSSH 9.0: its Subsystem command,
// `internal-sftp` or a path to sftp-server), and for rsync over ssh.
bool file_transfer(std::string_view verb) {
    return verb == "scp" || verb == "rsync" || sftp_program(verb);
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
    const scanned verb = scan_word(original_command, 0);
    if (verb.what == scan::unbalanced)
        throw failure_error(failure::usage, "unbalanced quotes or a trailing backslash");
    if (verb.what == scan::end)
        throw failure_error(failure::usage, "no command");
    if (file_transfer(verb.word))
        throw failure_error(failure::file_transfer, "a file transfer: " + verb.word);

    if (verb.word == "connect") {
        // Only the verb and the job ID are ours: the rest is the VM shell's to read, as
        // after a direct `ssh build@vm` (buildsrht-shell split and re-joined it, so that
        // `sh -c 'cat; exit 7'` lost its meaning).
        const scanned job = scan_word(original_command, verb.next);
        if (job.what == scan::unbalanced)
            throw failure_error(failure::usage, "unbalanced quotes or a trailing backslash");
        if (job.what == scan::end)
            throw failure_error(failure::usage, "connect without a job id");
        connect_command connect{job_argument(job.word), {}};
        scanned rest = scan_word(original_command, job.next);
        if (rest.what == scan::word && rest.word == "--") {
            rest = scan_word(original_command, rest.next);
            // `--` promises a command: with none, a shell reading stdin is not what was meant.
            if (rest.what == scan::end)
                throw failure_error(failure::empty_command, "connect: nothing after --");
        }
        // An unbalanced quote after the job ID is the VM shell's to report, as it would be.
        if (rest.what != scan::end)
            connect.remote_command = original_command.substr(rest.begin);
        return connect;
    }

    auto words = shlex_split(original_command);
    if (!words)
        throw failure_error(failure::usage, "unbalanced quotes or a trailing backslash");
    if (verb.word == "help")
        return help_command{};
    // `tail -- <job>`: a `--` before the job ID is the usual end of options, so that a bad
    // job ID there is told as one (65), not as a usage error.
    if (words->size() >= 2 && (*words)[1] == "--")
        words->erase(words->begin() + 1);
    if (verb.word == "tail") {
        if (words->size() != 2)
            throw failure_error(failure::usage, "tail takes one job id");
        return tail_command{job_argument((*words)[1])};
    }
    if (verb.word == "watch") {
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
    if (verb.word == "replay")
        return parse_replay(*words);
    throw failure_error(failure::usage, "unknown command: " + verb.word);
}

} // namespace jobssh
