#include <algorithm>
#include <jobssh/common/shell_quote.hpp>
#include <jobssh/common/user_name.hpp>
#include <jobssh/keys/authorized_keys.hpp>

namespace jobssh {

namespace {

std::string one_line_word(const std::filesystem::path& path, std::string_view what) {
    const std::string& text = path.native();
    if (text.empty() || text.find_first_of(std::string_view("\n\r\0", 3)) != std::string::npos)
        throw authorized_keys_error(std::string(what) +
                                    " cannot be named in an authorized_keys line: " + text);
    return shell_quote(text);
}

// sshd's command="…" takes everything up to the next unescaped `"` literally and turns
// `\"` into `"`: every other backslash stays as it is. The shell words we give it always
// end in a quote or a safe character, never in a backslash that would swallow the end.
std::string sshd_option_value(std::string_view text) {
    std::string value = "\"";
    for (char c : text) {
        if (c == '"')
            value += '\\';
        value += c;
    }
    return value + "\"";
}

} // namespace

namespace {

// `<shell> [--config FILE] <option> '<b64key>'` as one authorized_keys line.
std::string forced_command_line(const std::filesystem::path& shell,
                                const std::optional<std::filesystem::path>& config_file,
                                const std::string& option, std::string_view key_type,
                                std::string_view b64key, std::string_view comment) {
    std::string command = one_line_word(shell, "the shell");
    if (config_file)
        command += " --config " + one_line_word(*config_file, "the config file");
    command += option;
    // The key is quoted even though base64 needs no quoting, as buildsrht-keys does.
    command += " '" + std::string(b64key) + "'";
    return "restrict,pty,command=" + sshd_option_value(command) + " " + std::string(key_type) +
           " " + std::string(b64key) + " " + std::string(comment) + "\n";
}

} // namespace

std::string authorized_keys_line(const std::filesystem::path& shell,
                                 const std::optional<std::filesystem::path>& config_file,
                                 std::string_view key_type, std::string_view b64key,
                                 std::optional<std::string_view> owner) {
    // A user name's shape needs no quoting; anything else never gets into the line.
    if (owner && !valid_user_name(*owner))
        throw authorized_keys_error("the owner is not a sr.ht user name");
    return forced_command_line(shell, config_file, owner ? " --owner " + std::string(*owner) : "",
                               key_type, b64key, "somebody");
}

std::string gateway_authorized_keys_line(const std::filesystem::path& shell,
                                         const std::optional<std::filesystem::path>& config_file,
                                         std::string_view key_type, std::string_view b64key) {
    return forced_command_line(shell, config_file, " --gateway", key_type, b64key, "gateway");
}

} // namespace jobssh
