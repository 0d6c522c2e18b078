// jobssh-keys runs on every login attempt with what sshd took from the client (%t, %k).
// Its arguments are either refused (nothing printed, non-zero status) or turned into an
// authorized_keys line that, read the way sshd reads it and run by a POSIX shell, calls
// jobssh-shell with exactly the key as its last argument: no quote, `;`, `$(…)`, newline
// or leading `-` gets out of the forced command.
//
// Input: up to six arguments separated by NUL bytes. With four or more, the first two are
// also tried as shell and config paths of authorized_keys_line.
#include "check.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <jobssh/keys/authorized_keys.hpp>
#include <jobssh/keys/keys.hpp>
#include <jobssh/shell/command.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using jobssh::fuzz::check;

// jobssh-keys tells the syslog about every refusal: not a million times a minute here.
extern "C" void syslog(int, const char*, ...) {}
extern "C" void openlog(const char*, int, int) {}

namespace {

const fs::path shell = "/usr/bin/jobssh-shell";

const fs::path& config_file() {
    static const fs::path file = [] {
        fs::path file = jobssh::fuzz::scratch_path("keys");
        std::ofstream(file) << "[jobssh]\nuser = builds\nshell = " << shell.string() << "\n";
        return file;
    }();
    return file;
}

bool base64_character(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

// sshd's own reading of the line: options up to the first unquoted blank, command="…"
// dequoted (only \" is an escape), then the key type, the key and the comment.
struct sshd_view {
    std::string command;
    std::string rest; // after the options
};

sshd_view read_as_sshd(const std::string& line) {
    const std::string start = "restrict,pty,command=\"";
    check(line.starts_with(start), "the line starts with restrict,pty and the forced command");
    sshd_view view;
    std::size_t i = start.size();
    for (; i < line.size() && line[i] != '"'; ++i) {
        if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '"')
            ++i;
        view.command += line[i];
    }
    check(i < line.size(), "the forced command's quote is closed");
    view.rest = line.substr(i + 1);
    return view;
}

void check_line(const std::string& line, const std::optional<fs::path>& config,
                std::string_view type, std::string_view key) {
    check(line.find('\n') == line.size() - 1 && line.find('\r') == std::string::npos,
          "the line is one line");
    const sshd_view view = read_as_sshd(line);
    check(view.rest == " " + std::string(type) + " " + std::string(key) + " somebody\n",
          "the key sshd checks is the key the client offered");
    const auto words = jobssh::shlex_split(view.command);
    check(words.has_value(), "the forced command splits");
    check(words->size() == (config ? 4u : 2u) && words->back() == key,
          "jobssh-shell gets the key, and only the key, after its options");
    if (config)
        check((*words)[1] == "--config" && (*words)[2] == config->string(),
              "the config file reaches jobssh-shell as one word");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
    std::vector<std::string> fields;
    std::string_view text = jobssh::fuzz::text_of(data, size);
    for (std::size_t end; fields.size() < 5 && (end = text.find('\0')) != std::string_view::npos;
         text.remove_prefix(end + 1))
        fields.emplace_back(text.substr(0, end));
    fields.emplace_back(text);

    // The validation, against the rules of docs/design.md written out again.
    for (const std::string& field : fields) {
        bool type_ok =
            !field.empty() && field.size() <= 256 &&
            field.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789@.-") == std::string::npos;
        check(jobssh::valid_key_type(field) == type_ok, "a key type is [a-z0-9@.-]+");
        if (jobssh::valid_key(field)) {
            check(field.size() % 4 == 0 && field.size() <= jobssh::longest_key,
                  "a key is padded base64 of bounded length");
            auto data_end = field.find_last_not_of('=') + 1;
            check(field.size() - data_end <= 2, "a key ends in at most two `=`");
            check(std::all_of(field.begin(), field.begin() + data_end, base64_character),
                  "a key is base64 characters before its padding");
        }
    }

    // The line for awkward paths: the first two fields as shell and config file.
    if (fields.size() >= 4 && jobssh::valid_key_type(fields[2]) && jobssh::valid_key(fields[3])) {
        try {
            std::optional<fs::path> config;
            if (!fields[1].empty())
                config = fields[1];
            const std::string line =
                jobssh::authorized_keys_line(fields[0], config, fields[2], fields[3]);
            check(fields[0].find_first_of("\r\n") == std::string::npos,
                  "a path with a line break is refused");
            check_line(line, config, fields[2], fields[3]);
            const sshd_view view = read_as_sshd(line);
            check((*jobssh::shlex_split(view.command))[0] == fields[0],
                  "the shell reaches the login shell as one word");
        } catch (const jobssh::authorized_keys_error&) {
            check(fields[0].empty() || fields[0].find_first_of("\r\n") != std::string::npos ||
                      fields[1].find_first_of("\r\n") != std::string::npos,
                  "only an empty path or a line break is refused");
        }
    }

    // jobssh-keys itself, as sshd runs it (the config is ours: the login user is builds).
    std::vector<std::string_view> args{"--config", config_file().native()};
    args.insert(args.end(), fields.begin(), fields.end());
    std::ostringstream out, err;
    const int status = jobssh::run_keys(args, out, err, "/usr/bin");
    check(status == 0 || status == 64 || status == 65 || status == 66,
          "jobssh-keys exits 0, 64 (usage), 65 (bad key) or 66 (unreadable file)");
    if (status != 0)
        check(out.str().empty(), "a refusal prints nothing for sshd");
    const bool well_formed =
        fields.size() == 4 && jobssh::valid_key_type(fields[2]) && jobssh::valid_key(fields[3]);
    if (fields.size() == 4 && !well_formed)
        check(status == 65, "a malformed key or key type exits 65");
    if (well_formed && fields[0] == "builds") {
        check(status == 0, "the login user with a well-formed key gets a line");
        check(out.str() == jobssh::authorized_keys_line(shell, config_file(), fields[2], fields[3]),
              "the login user gets exactly the forced command line");
        check_line(out.str(), config_file(), fields[2], fields[3]);
    }
    return 0;
}
