// SSH_ORIGINAL_COMMAND is whatever the client sent. parse_command either accepts it or
// throws failure_error(usage, empty_command, bad_job_id or file_transfer), nothing else; its
// verb and job
// agree with shlex_split; a connect's remote command is the text's own tail after the job
// ID (and `--`), byte for byte; and shlex_split reads back every word it split, once quoted
// for a POSIX shell.
#include "check.hpp"

#include <jobssh/common/failure.hpp>
#include <jobssh/shell/command.hpp>
#include <string>
#include <variant>

using jobssh::fuzz::check;

namespace {

// Python's shlex.quote.
std::string quote(const std::string& word) {
    std::string quoted = "'";
    for (char c : word)
        quoted += c == '\'' ? std::string("'\"'\"'") : std::string(1, c);
    return quoted + "'";
}

bool shlex_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool all_digits(std::string_view text) {
    return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
}

void check_job_id(std::string_view text) {
    auto job = jobssh::parse_job_id(text);
    if (!job)
        return;
    check(all_digits(text), "a job id is decimal digits only");
    check(*job >= 1, "a job id is positive");
    auto significant = text.substr(std::min(text.find_first_not_of('0'), text.size()));
    check(std::to_string(*job) == significant, "a job id is the number written");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
    const std::string_view text = jobssh::fuzz::text_of(data, size);
    check_job_id(text);

    const auto words = jobssh::shlex_split(text);
    if (words) {
        std::string requoted;
        for (const std::string& word : *words)
            requoted += quote(word) + " ";
        const auto again = jobssh::shlex_split(requoted);
        check(again && *again == *words, "quoted words split back into the same words");
    }

    try {
        const jobssh::command command = jobssh::parse_command(text);
        if (auto* connect = std::get_if<jobssh::connect_command>(&command)) {
            // Only the verb and the job are split; the rest is the text's own tail.
            const std::string& rest = connect->remote_command;
            check(text.ends_with(rest), "the remote command is the tail of the text, unchanged");
            check(rest.empty() || !shlex_space(rest.front()), "the remote command starts a word");
            const auto head = jobssh::shlex_split(text.substr(0, text.size() - rest.size()));
            check(head && (head->size() == 2 || (head->size() == 3 && (*head)[2] == "--")),
                  "before the remote command: the verb, the job, perhaps `--`");
            check((*head)[0] == "connect", "connect is `connect <job> …`");
            check(jobssh::parse_job_id((*head)[1]) == connect->job,
                  "connect goes to the job named");
            if (head->size() == 2 && !rest.empty()) {
                const auto first = jobssh::shlex_split(rest);
                check(!first || first->empty() || first->front() != "--",
                      "a `--` after the job is never the remote command's first word");
            }
            if (words) {
                // Split as a whole, the text's words after the job (and `--`) are the
                // remote command's words.
                auto after = words->begin() + static_cast<std::ptrdiff_t>(head->size());
                const auto split_rest = jobssh::shlex_split(rest);
                check(split_rest &&
                          std::equal(after, words->end(), split_rest->begin(), split_rest->end()),
                      "the remote command holds exactly the words after the job (and `--`)");
            }
            return 0;
        }
        check(words && !words->empty(), "an accepted command has words");
        // `tail -- <job>` and the like: a `--` before the job ID ends the options.
        auto accepted_words = *words;
        if (accepted_words.size() >= 2 && accepted_words[1] == "--")
            accepted_words.erase(accepted_words.begin() + 1);
        const std::string& verb = accepted_words.front();
        if (std::holds_alternative<jobssh::help_command>(command)) {
            check(verb == "help", "help is only `help`");
        } else if (auto* watch = std::get_if<jobssh::watch_command>(&command)) {
            check(verb == "watch" && (accepted_words.size() == 2 || accepted_words.size() == 3),
                  "watch is `watch <job> [<n>]`");
            check(jobssh::parse_job_id(accepted_words[1]) == watch->job,
                  "watch shows the job named");
            check(!watch->session || *watch->session >= 1, "sessions count from 1");
        } else if (auto* replay = std::get_if<jobssh::replay_command>(&command)) {
            check(verb == "replay" && accepted_words.size() >= 2, "replay is `replay <job> …`");
            check(jobssh::parse_job_id(accepted_words[1]) == replay->job,
                  "replay plays the job named");
            check(replay->speed >= 0.1 && replay->speed <= 100, "--speed is 0.1 to 100");
        } else {
            const auto& tail = std::get<jobssh::tail_command>(command);
            check(verb == "tail" && accepted_words.size() == 2, "tail is `tail <job>`");
            check(jobssh::parse_job_id(accepted_words[1]) == tail.job,
                  "tail follows the job named");
        }
    } catch (const jobssh::failure_error& error) {
        check(error.kind() == jobssh::failure::usage ||
                  error.kind() == jobssh::failure::empty_command ||
                  error.kind() == jobssh::failure::bad_job_id ||
                  error.kind() == jobssh::failure::file_transfer,
              "a refused command is a usage error, a bad job id or a file transfer");
        // Nothing after a connect's `--` is its own usage error, and only that.
        if (error.kind() == jobssh::failure::empty_command)
            check(words && words->size() == 3 && (*words)[0] == "connect" && (*words)[2] == "--",
                  "an empty command is `connect <job> --` and nothing after");
        // Unbalanced quotes after a connect's job ID are left to the VM's shell: they may
        // come with any verdict on the job ID, but a bad one only after a verb that takes one.
        if (error.kind() == jobssh::failure::bad_job_id && words)
            check(words->size() >= 2 && ((*words)[0] == "connect" || (*words)[0] == "tail" ||
                                         (*words)[0] == "watch" || (*words)[0] == "replay"),
                  "only connect, tail, watch and replay take a job id");
    }
    return 0;
}
