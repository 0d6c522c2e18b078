#include <algorithm>
#include <fstream>
#include <iterator>
#include <jobssh/common/config.hpp>
#include <jobssh/common/gateway_keys.hpp>
#include <jobssh/common/ssh_key_format.hpp>
#include <jobssh/common/syslog.hpp>
#include <jobssh/keys/authorized_keys.hpp>
#include <jobssh/keys/keys.hpp>
#include <jobssh/keys/meta_check.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <system_error>

namespace jobssh {

namespace {

constexpr int ex_ok = 0;
constexpr int ex_usage = 64;
constexpr int ex_dataerr = 65;
constexpr int ex_noinput = 66;
constexpr int ex_config = 78;

constexpr std::string_view usage = "Usage: jobssh-keys [--config FILE] USER HOME KEYTYPE B64KEY\n"
                                   "       jobssh-keys --version\n";

// What sshd does not see (stderr of an AuthorizedKeysCommand goes to its log at best)
// goes to the syslog as well.
int refuse(std::ostream& err, int status, const std::string& line) {
    err << "jobssh-keys: " << line << '\n';
    if (status == ex_config)
        log_error(line);
    else
        log_auth(line);
    return status;
}

// Another user's own authorized_keys, byte for byte, so that installing jobssh-keys
// globally locks no administrator out.
int pass_through(const std::string& user, const std::filesystem::path& home, std::ostream& out,
                 std::ostream& err) {
    const auto file = home / ".ssh" / "authorized_keys";
    std::error_code error;
    if (!std::filesystem::exists(file, error) && !error)
        return ex_ok;
    std::ifstream in(file, std::ios::binary);
    if (!in)
        return refuse(err, ex_noinput,
                      "user=" + user + " outcome=unreadable file=" + file.string());
    // Not `out << in.rdbuf()`: that marks `out` failed when the file is empty.
    std::copy(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>(),
              std::ostreambuf_iterator<char>(out));
    return ex_ok;
}

} // namespace

int run_keys(std::span<const std::string_view> args, std::ostream& out, std::ostream& err,
             const std::filesystem::path& program_dir) {
    std::optional<std::filesystem::path> config_file;
    if (args.size() == 1 && args[0] == "--version") {
        out << "jobssh-keys " << JOBSSH_VERSION << '\n';
        return ex_ok;
    }
    if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
        out << usage;
        return ex_ok;
    }
    if (!args.empty() && args[0].starts_with("--config=")) {
        config_file = std::string(args[0].substr(9));
        args = args.subspan(1);
    } else if (args.size() >= 2 && args[0] == "--config") {
        config_file = std::string(args[1]);
        args = args.subspan(2);
    }
    if (args.size() != 4 || (config_file && config_file->empty())) {
        err << usage;
        return ex_usage;
    }
    const std::string user(args[0]);
    const std::filesystem::path home(args[1]);
    const std::string_view key_type = args[2];
    const std::string_view key = args[3];

    // The configuration first, so that every refusal below reaches its syslog-socket.
    config cfg;
    std::optional<std::string> config_failed;
    try {
        cfg = find_config(config_file);
        send_syslog_to(cfg.syslog_socket);
    } catch (const config_error& error) {
        config_failed = error.what();
    }

    if (!valid_key_type(key_type))
        return refuse(err, ex_dataerr,
                      "user=" + user + " outcome=malformed_key_type key_type_length=" +
                          std::to_string(key_type.size()));
    if (!valid_key(key))
        return refuse(err, ex_dataerr,
                      "user=" + user + " key_type=" + std::string(key_type) +
                          " outcome=malformed_key key_length=" + std::to_string(key.size()));

    if (config_failed)
        return refuse(err, ex_config, *config_failed);
    if (user != cfg.login_user)
        return pass_through(user, home, out, err);

    // sshd gives the forced command neither our arguments nor our environment: the config
    // file we were told about travels in the command line, as an absolute path.
    if (config_file)
        config_file = std::filesystem::absolute(*config_file);
    const auto shell = cfg.shell.empty() ? program_dir / "jobssh-shell" : cfg.shell;
    // A gateway's key: the gateway checked the user's key and names the user itself; meta
    // does not know this key. A gateway-keys file we cannot read locks out the gateways
    // only: every other key goes on to meta as usual.
    bool gateway_key = false;
    try {
        gateway_key =
            !cfg.gateway.gateway_keys.empty() && listed_gateway_key(cfg.gateway.gateway_keys, key);
    } catch (const config_error& error) {
        err << "jobssh-keys: " << error.what() << '\n';
        log_error(error.what());
    }
    if (gateway_key) {
        log_auth("user=" + user + " key=" + key_fingerprint(key) + " outcome=gateway_key");
        try {
            out << gateway_authorized_keys_line(shell, config_file, key_type, key);
        } catch (const authorized_keys_error& error) {
            return refuse(err, ex_config, error.what());
        }
        return ex_ok;
    }
    std::optional<std::string> owner;
    if (cfg.authenticate == authenticate_mode::keys) {
        meta_verdict verdict = ask_meta(cfg, key);
        switch (verdict.what) {
        case meta_verdict::kind::known:
            owner = std::move(verdict.owner);
            break;
        case meta_verdict::kind::unknown:
            // Nothing printed: sshd goes on to the client's next key.
            log_auth("user=" + user + " key=" + key_fingerprint(key) + " outcome=unknown_key");
            return ex_ok;
        case meta_verdict::kind::unsure:
            // Let the key in without an owner: jobssh-shell asks meta again and tells the
            // user of a temporary failure, which a bare `Permission denied` would not.
            err << "jobssh-keys: user=" << user << " outcome=meta_unsure detail=" << verdict.detail
                << '\n';
            log_error("user=" + user + " key=" + key_fingerprint(key) +
                      " outcome=meta_unsure detail=" + verdict.detail);
            break;
        }
    }
    try {
        out << authorized_keys_line(shell, config_file, key_type, key, owner);
    } catch (const authorized_keys_error& error) {
        return refuse(err, ex_config, error.what());
    }
    return ex_ok;
}

} // namespace jobssh
