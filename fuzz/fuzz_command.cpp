// SSH_ORIGINAL_COMMAND is whatever the client sent. parse_command either accepts it or
// throws failure_error(usage or bad_job_id), nothing else; what it accepts agrees with
// shlex_split; and shlex_split reads back every word it split, once quoted for a POSIX shell.
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
        check(words && !words->empty(), "an accepted command has words");
        const std::string& verb = words->front();
        if (std::holds_alternative<jobssh::help_command>(command)) {
            check(verb == "help", "help is only `help`");
        } else if (auto* tail = std::get_if<jobssh::tail_command>(&command)) {
            check(verb == "tail" && words->size() == 2, "tail is `tail <job>`");
            check(jobssh::parse_job_id((*words)[1]) == tail->job, "tail follows the job named");
        } else {
            const auto& connect = std::get<jobssh::connect_command>(command);
            check(verb == "connect" && words->size() >= 2, "connect is `connect <job> …`");
            check(jobssh::parse_job_id((*words)[1]) == connect.job,
                  "connect goes to the job named");
            auto first = words->begin() + 2;
            if (first != words->end() && *first == "--")
                ++first;
            check(std::equal(first, words->end(), connect.argv.begin(), connect.argv.end()),
                  "connect runs exactly the words after the job id (and `--`)");
        }
    } catch (const jobssh::failure_error& error) {
        check(error.kind() == jobssh::failure::usage || error.kind() == jobssh::failure::bad_job_id,
              "a refused command is a usage error or a bad job id");
        if (!words)
            check(error.kind() == jobssh::failure::usage, "unbalanced quotes are a usage error");
    }
    return 0;
}
