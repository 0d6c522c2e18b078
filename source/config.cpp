#include <boost/property_tree/ini_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <jobssh/config.hpp>
#include <system_error>

namespace jobssh {

namespace {

namespace pt = boost::property_tree;

// One section of the file. Section names contain dots and "::" ("builds.sr.ht::worker"),
// so sections and keys are looked up as exact child keys, never as ptree paths.
class section_reader {
public:
    section_reader(const pt::ptree& root, std::string name, const std::filesystem::path& file)
        : name_(std::move(name))
        , file_(file) {
        if (auto found = root.find(name_); found != root.not_found())
            section_ = &found->second;
    }

    std::optional<std::string> get(const std::string& key) const {
        if (!section_)
            return std::nullopt;
        auto found = section_->find(key);
        if (found == section_->not_found())
            return std::nullopt;
        return found->second.data();
    }

    void read(const std::string& key, std::string& into) const {
        if (auto value = get(key); value && !value->empty())
            into = *value;
    }

    void read(const std::string& key, std::filesystem::path& into) const {
        if (auto value = get(key); value && !value->empty())
            into = *value;
    }

    [[noreturn]] void bad_value(const std::string& key, const std::string& value,
                                const std::string& why) const {
        throw config_error(file_.string() + location(key) + ": [" + name_ + "] " + key + " = \"" +
                           value + "\": " + why);
    }

private:
    // The ini parser keeps no line numbers for values; find the key's line again so that
    // the operator is pointed at it. Only called when a value is already known to be bad.
    std::string location(const std::string& key) const {
        std::ifstream in(file_);
        std::string line;
        std::string current;
        for (int number = 1; std::getline(in, line); ++number) {
            auto text = pt::detail::trim(line, in.getloc());
            if (text.empty() || text[0] == ';' || text[0] == '#')
                continue;
            if (text[0] == '[') {
                current = pt::detail::trim(text.substr(1, text.find(']') - 1), in.getloc());
                continue;
            }
            auto equals = text.find('=');
            if (current == name_ && equals != std::string::npos &&
                pt::detail::trim(text.substr(0, equals), in.getloc()) == key)
                return ":" + std::to_string(number);
        }
        return "";
    }

    std::string name_;
    const std::filesystem::path& file_;
    const pt::ptree* section_ = nullptr;
};

std::string without_trailing_slashes(std::string origin) {
    while (!origin.empty() && origin.back() == '/')
        origin.pop_back();
    return origin;
}

// Seconds, decimals allowed ("0.5"), as sr.ht's Python would read them.
std::chrono::milliseconds read_seconds(const section_reader& section, const std::string& key,
                                       std::chrono::milliseconds fallback) {
    auto value = section.get(key);
    if (!value || value->empty())
        return fallback;
    double seconds = 0;
    auto [end, error] = std::from_chars(value->data(), value->data() + value->size(), seconds,
                                        std::chars_format::fixed);
    if (error != std::errc{} || end != value->data() + value->size() || !std::isfinite(seconds))
        section.bad_value(key, *value, "expected a number of seconds, like 5 or 0.5");
    if (seconds <= 0 || seconds > 24 * 3600)
        section.bad_value(key, *value, "expected more than 0 and at most 86400 seconds");
    auto milliseconds = std::llround(seconds * 1000);
    return std::chrono::milliseconds{std::max<long long>(milliseconds, 1)};
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

} // namespace

config load_config(const std::filesystem::path& file) {
    pt::ptree root;
    try {
        pt::read_ini(file.string(), root);
    } catch (const pt::ini_parser_error& error) {
        std::string where = file.string();
        if (error.line() != 0)
            where += ":" + std::to_string(error.line());
        throw config_error(where + ": " + error.message());
    }

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
    cfg.http_timeout = read_seconds(jobssh, "http-timeout", cfg.http_timeout);
    cfg.poll_interval = read_seconds(jobssh, "poll-interval", cfg.poll_interval);
    jobssh.read("vm-identity", cfg.vm_identity);
    jobssh.read("state-dir", cfg.state_dir);
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
