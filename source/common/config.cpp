#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <jobssh/common/config.hpp>
#include <jobssh/common/posix.hpp>
#include <map>
#include <system_error>
#include <unistd.h>

namespace jobssh {

namespace {

// config.ini as Boost.PropertyTree's read_ini reads it, which is how the file has been
// read from the start: one "key = value" per line, "[section]" lines, lines starting with
// ';' or '#' ignored, both sides trimmed, a key or section given twice an error. Written
// out here so that jobssh-shell reads its config with one read(2) and no iostreams.
struct ini_value {
    std::string text;
    int line = 0;
};
using ini_section = std::map<std::string, ini_value, std::less<>>;

struct ini_file {
    std::map<std::string, ini_value, std::less<>> top; // keys before any section
    std::map<std::string, ini_section, std::less<>> sections;
};

[[noreturn]] void fail_at(const std::filesystem::path& file, int line, const std::string& why) {
    throw config_error(file.string() + (line > 0 ? ":" + std::to_string(line) : "") + ": " + why);
}

std::string read_whole(const std::filesystem::path& file) {
    unique_fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd)
        throw config_error(file.string() + ": cannot open file: " + std::strerror(errno));
    std::string text;
    char buffer[8192];
    for (;;) {
        ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw config_error(file.string() + ": cannot read file: " + std::strerror(errno));
        if (n == 0)
            break;
        text.append(buffer, static_cast<std::size_t>(n));
    }
    return text;
}

// The classic locale's white space, as read_ini trims.
std::string_view trim(std::string_view text) {
    constexpr std::string_view space = " \t\n\v\f\r";
    auto first = text.find_first_not_of(space);
    if (first == std::string_view::npos)
        return {};
    return text.substr(first, text.find_last_not_of(space) - first + 1);
}

ini_file parse_ini(const std::filesystem::path& file) {
    const std::string content = read_whole(file);
    ini_file ini;
    ini_section* section = nullptr;
    std::string_view rest = content;
    for (int number = 1; !rest.empty(); ++number) {
        auto newline = rest.find('\n');
        auto line = trim(rest.substr(0, newline));
        rest.remove_prefix(newline == std::string_view::npos ? rest.size() : newline + 1);
        if (line.empty() || line.front() == ';' || line.front() == '#')
            continue;
        if (line.front() == '[') {
            auto close = line.find(']');
            if (close == std::string_view::npos)
                fail_at(file, number, "unmatched '['");
            std::string name(trim(line.substr(1, close - 1)));
            if (ini.sections.contains(name) || ini.top.contains(name))
                fail_at(file, number, "duplicate section name");
            section = &ini.sections[name];
            continue;
        }
        auto equals = line.find('=');
        if (equals == std::string_view::npos)
            fail_at(file, number, "'=' character not found in line");
        if (equals == 0)
            fail_at(file, number, "key expected");
        std::string key(trim(line.substr(0, equals)));
        auto& container = section ? *section : ini.top;
        if (container.contains(key) || (!section && ini.sections.contains(key)))
            fail_at(file, number, "duplicate key name");
        container.emplace(std::move(key),
                          ini_value{std::string(trim(line.substr(equals + 1))), number});
    }
    return ini;
}

// One section of the file. Section names contain dots and "::" ("builds.sr.ht::worker"):
// they are looked up whole.
class section_reader {
public:
    section_reader(const ini_file& ini, std::string name, const std::filesystem::path& file)
        : name_(std::move(name))
        , file_(file) {
        if (auto found = ini.sections.find(name_); found != ini.sections.end())
            section_ = &found->second;
    }

    const ini_value* find(const std::string& key) const {
        if (!section_)
            return nullptr;
        auto found = section_->find(key);
        return found == section_->end() ? nullptr : &found->second;
    }

    std::optional<std::string> get(const std::string& key) const {
        if (auto value = find(key))
            return value->text;
        return std::nullopt;
    }

    void read(const std::string& key, std::string& into) const {
        if (auto value = get(key); value && !value->empty())
            into = *value;
    }

    void read(const std::string& key, std::filesystem::path& into) const {
        if (auto value = get(key); value && !value->empty())
            into = *value;
    }

    // The operator is pointed at the line of the bad value.
    [[noreturn]] void bad_value(const std::string& key, const std::string& value,
                                const std::string& why) const {
        auto found = find(key);
        fail_at(file_, found ? found->line : 0,
                "[" + name_ + "] " + key + " = \"" + value + "\": " + why);
    }

private:
    std::string name_;
    const std::filesystem::path& file_;
    const ini_section* section_ = nullptr;
};

std::string without_trailing_slashes(std::string origin) {
    while (!origin.empty() && origin.back() == '/')
        origin.pop_back();
    return origin;
}

// [-]digits[.digits], at least one digit: no exponent, no hex, no "inf" (what from_chars
// with chars_format::fixed takes).
bool plain_decimal(std::string_view text) {
    if (text.starts_with('-'))
        text.remove_prefix(1);
    bool digit_seen = false, point_seen = false;
    for (char c : text) {
        if (c >= '0' && c <= '9')
            digit_seen = true;
        else if (c == '.' && !point_seen)
            point_seen = true;
        else
            return false;
    }
    return digit_seen;
}

// Seconds, decimals allowed ("0.5"), as sr.ht's Python would read them.
std::chrono::milliseconds read_seconds(const section_reader& section, const std::string& key,
                                       std::chrono::milliseconds fallback) {
    auto value = section.get(key);
    if (!value || value->empty())
        return fallback;
    if (!plain_decimal(*value))
        section.bad_value(key, *value, "expected a number of seconds, like 5 or 0.5");
    // strtod rather than from_chars<double>, which would bring libm in for one fesetround.
    double seconds = std::strtod(value->c_str(), nullptr);
    if (!std::isfinite(seconds))
        section.bad_value(key, *value, "expected a number of seconds, like 5 or 0.5");
    if (seconds <= 0 || seconds > 24 * 3600)
        section.bad_value(key, *value, "expected more than 0 and at most 86400 seconds");
    // Rounded to the nearest millisecond (positive here), without libm's llround: jobssh-shell
    // then loads no libm at all.
    auto milliseconds = static_cast<long long>(seconds * 1000 + 0.5);
    return std::chrono::milliseconds{std::max<long long>(milliseconds, 1)};
}

// yes or no (also true/false, on/off, 1/0, as Python's configparser takes them).
bool read_yes_no(const section_reader& section, const std::string& key, bool fallback) {
    auto value = section.get(key);
    if (!value || value->empty())
        return fallback;
    for (const char* yes : {"yes", "true", "on", "1"})
        if (*value == yes)
            return true;
    for (const char* no : {"no", "false", "off", "0"})
        if (*value == no)
            return false;
    section.bad_value(key, *value, "expected yes or no");
}

// bind-address is host:port as Go's net.Listen takes it: "0.0.0.0:8080", ":8080",
// "[::1]:8080". The worker listening on every address is reached on loopback.
void read_bind_address(const section_reader& section, config& cfg) {
    auto value = section.get("bind-address");
    if (!value || value->empty())
        return;
    auto colon = value->rfind(':');
    if (colon == std::string::npos)
        section.bad_value("bind-address", *value, "expected host:port, like 0.0.0.0:8080");
    std::string host = value->substr(0, colon);
    std::string port_text = value->substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    unsigned port = 0;
    auto [end, error] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || error != std::errc{} || end != port_text.data() + port_text.size() ||
        port == 0 || port > 65535)
        section.bad_value("bind-address", *value, "the port must be a number from 1 to 65535");
    if (host.empty() || host == "0.0.0.0")
        host = "127.0.0.1";
    else if (host == "::")
        host = "::1";
    cfg.runner_host = host;
    cfg.runner_port = static_cast<std::uint16_t>(port);
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
    unsigned port = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (text.empty() || error != std::errc{} || end != text.data() + text.size() || port == 0 ||
        port > 65535)
        return std::nullopt;
    return static_cast<std::uint16_t>(port);
}

// A host name or address that ssh and known_hosts take as one word and never as an option.
bool plain_host(std::string_view host) {
    if (host.empty() || host.front() == '-' || host.front() == '.')
        return false;
    for (char c : host)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_'))
            return false;
    return true;
}

// runners = host:port host:port …, separated by spaces or commas.
void read_gateway(const section_reader& section, config& cfg) {
    gateway_config& gateway = cfg.gateway;
    if (auto value = section.get("runners")) {
        std::string_view rest = *value;
        while (!rest.empty()) {
            auto start = rest.find_first_not_of(" \t,");
            if (start == std::string_view::npos)
                break;
            rest.remove_prefix(start);
            auto word = rest.substr(0, rest.find_first_of(" \t,"));
            rest.remove_prefix(word.size());
            auto colon = word.rfind(':');
            std::optional<std::uint16_t> port;
            if (colon != std::string_view::npos)
                port = parse_port(word.substr(colon + 1));
            if (!port || !plain_host(word.substr(0, colon)))
                section.bad_value("runners", *value,
                                  "expected host:port of each runner's worker API, like "
                                  "runner1.example.org:8080");
            gateway.runners.push_back({std::string(word.substr(0, colon)), *port});
        }
    }
    section.read("ssh-user", gateway.ssh_user);
    if (auto value = section.get("ssh-port"); value && !value->empty()) {
        auto port = parse_port(*value);
        if (!port)
            section.bad_value("ssh-port", *value, "the port must be a number from 1 to 65535");
        gateway.ssh_port = *port;
    }
    section.read("identity", gateway.identity);
    section.read("known-hosts", gateway.known_hosts);
    section.read("gateway-keys", gateway.gateway_keys);
    if (!gateway.runners.empty() && (gateway.identity.empty() || gateway.known_hosts.empty()))
        section.bad_value("runners", *section.get("runners"),
                          "a gateway needs identity and known-hosts too");
}

void read_authenticate(const section_reader& section, config& cfg) {
    auto value = section.get("authenticate");
    if (!value || value->empty())
        return;
    if (*value == "keys")
        cfg.authenticate = authenticate_mode::keys;
    else if (*value == "shell")
        cfg.authenticate = authenticate_mode::shell;
    else
        section.bad_value("authenticate", *value, "expected keys or shell");
}

} // namespace

config load_config(const std::filesystem::path& file) {
    const ini_file root = parse_ini(file);

    config cfg;
    cfg.file = file;

    section_reader srht(root, "sr.ht", file);
    srht.read("owner-name", cfg.owner_name);
    srht.read("owner-email", cfg.owner_email);

    section_reader builds(root, "builds.sr.ht", file);
    builds.read("origin", cfg.builds_origin);
    cfg.builds_origin = without_trailing_slashes(cfg.builds_origin);

    section_reader worker(root, "builds.sr.ht::worker", file);
    read_bind_address(worker, cfg);
    worker.read("buildlogs", cfg.buildlogs);

    section_reader meta(root, "meta.sr.ht", file);
    meta.read("origin", cfg.meta_origin);
    cfg.meta_origin = without_trailing_slashes(cfg.meta_origin);
    cfg.meta_api_origin = cfg.meta_origin;
    meta.read("internal-origin", cfg.meta_api_origin);
    cfg.meta_api_origin = without_trailing_slashes(cfg.meta_api_origin);

    section_reader jobssh(root, "jobssh", file);
    jobssh.read("user", cfg.login_user);
    jobssh.read("shell", cfg.shell);
    read_authenticate(jobssh, cfg);
    cfg.keys_timeout = read_seconds(jobssh, "keys-timeout", cfg.keys_timeout);
    cfg.http_timeout = read_seconds(jobssh, "http-timeout", cfg.http_timeout);
    cfg.poll_interval = read_seconds(jobssh, "poll-interval", cfg.poll_interval);
    jobssh.read("vm-identity", cfg.vm_identity);
    jobssh.read("state-dir", cfg.state_dir);
    if (auto linger = jobssh.get("linger"); linger && *linger == "0")
        cfg.linger = std::chrono::milliseconds::zero();
    else
        cfg.linger = read_seconds(jobssh, "linger", cfg.linger);
    jobssh.read("syslog-socket", cfg.syslog_socket);
    // sockaddr_un holds 108 bytes with the terminating NUL.
    if (!cfg.syslog_socket.empty() &&
        (cfg.syslog_socket.is_relative() || cfg.syslog_socket.string().size() > 107))
        jobssh.bad_value("syslog-socket", cfg.syslog_socket.string(),
                         "expected an absolute path of at most 107 bytes");
    jobssh.read("recordings", cfg.recordings);
    if (!cfg.recordings.empty() && cfg.recordings.is_relative())
        jobssh.bad_value("recordings", cfg.recordings.string(), "expected an absolute path");
    cfg.record_input = read_yes_no(jobssh, "record-input", cfg.record_input);
    cfg.watch = read_yes_no(jobssh, "watch", cfg.watch);
    cfg.multiplex = read_yes_no(jobssh, "multiplex", cfg.multiplex);

    read_gateway(section_reader(root, "jobssh::gateway", file), cfg);
    return cfg;
}

config find_config(const std::optional<std::filesystem::path>& explicit_file) {
    auto named = explicit_file;
    if (!named) {
        if (const char* from_environment = std::getenv("JOBSSH_CONFIG");
            from_environment && *from_environment)
            named = from_environment;
    }
    if (named) {
        std::error_code error;
        if (!std::filesystem::exists(*named, error))
            throw config_error(named->string() + ": no such file");
        return load_config(*named);
    }
    for (const char* candidate : {"/etc/sr.ht/config.ini", "/etc/jobssh/config.ini"}) {
        std::error_code error;
        if (std::filesystem::exists(candidate, error))
            return load_config(candidate);
    }
    return config{};
}

} // namespace jobssh
