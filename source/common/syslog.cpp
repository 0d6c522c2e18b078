#include <algorithm>
#include <ctime>
#include <jobssh/common/syslog.hpp>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

namespace jobssh {

namespace {

bool is_control(unsigned char c) {
    return c < 0x20 || c == 0x7f;
}

// A control character as \xNN: shown, and unable to end the record or forge another.
void append_escaped(std::string& out, unsigned char c) {
    constexpr char hex[] = "0123456789abcdef";
    out += "\\x";
    out += hex[c >> 4];
    out += hex[c & 0xf];
}

// Lines may carry what a client sent (a key, a command): control characters are shown
// escaped so that nobody can forge a second log line, and a 16 KiB key is cut short.
std::string printable(std::string_view line) {
    constexpr std::size_t longest = 1024;
    std::string out;
    out.reserve(std::min(line.size(), longest) + 3);
    for (unsigned char c : line) {
        if (out.size() >= longest) {
            out += "...";
            break;
        }
        if (is_control(c))
            append_escaped(out, c);
        else
            out += static_cast<char>(c);
    }
    return out;
}

// Set once at start (open_syslog, send_syslog_to); the programs log from one thread.
struct destination {
    std::string ident = "jobssh";
    sockaddr_un address{};
    int socket = -1; // open while records go to `address` instead of syslog(3)
};

destination& where() {
    static destination d;
    return d;
}

// What syslog(3) sends to /dev/log: "<PRI>Mmm dd hh:mm:ss ident[pid]: text".
bool send_to_socket(int priority, const std::string& text) {
    auto& d = where();
    if (d.socket < 0)
        return false;
    char stamp[32] = "";
    std::time_t now = std::time(nullptr);
    std::tm local{};
    if (::localtime_r(&now, &local) != nullptr)
        std::strftime(stamp, sizeof stamp, "%h %e %T", &local);
    const std::string record = "<" + std::to_string(priority) + ">" + stamp + " " + d.ident + "[" +
                               std::to_string(::getpid()) + "]: " + text;
    // Never blocks: a collector that stopped reading must not hold a session's end.
    return ::sendto(d.socket, record.data(), record.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                    reinterpret_cast<const sockaddr*>(&d.address), sizeof d.address) >= 0;
}

void emit(int priority, std::string_view line) {
    const std::string text = printable(line);
    if (!send_to_socket(priority, text))
        ::syslog(priority, "%s", text.c_str());
}

} // namespace

log_fields& log_fields::add(std::string_view key, std::string_view value) {
    if (!line_.empty())
        line_ += ' ';
    line_ += key;
    line_ += '=';
    auto control = [](char c) { return is_control(static_cast<unsigned char>(c)); };
    if (!value.empty() && value.find_first_of(" \"\\=") == std::string_view::npos &&
        std::none_of(value.begin(), value.end(), control)) {
        line_ += value;
        return *this;
    }
    // Quoted, `"` and `\` escaped with a backslash, control characters as \xNN (what
    // docs/operators.md promises), so that a value can never end the record or forge another.
    line_ += '"';
    for (char c : value) {
        if (c == '"' || c == '\\')
            line_ += '\\';
        if (control(c))
            append_escaped(line_, static_cast<unsigned char>(c));
        else
            line_ += c;
    }
    line_ += '"';
    return *this;
}

log_fields& log_fields::add(std::string_view key, std::int64_t value) {
    return add(key, std::string_view(std::to_string(value)));
}

void open_syslog(const char* ident) {
    where().ident = ident;
    ::openlog(ident, LOG_PID, LOG_DAEMON);
}

void send_syslog_to(const std::filesystem::path& socket) {
    auto& d = where();
    if (d.socket >= 0)
        ::close(d.socket);
    d.socket = -1;
    const std::string path = socket.string();
    if (path.empty() || path.size() >= sizeof d.address.sun_path)
        return;
    d.address = {};
    d.address.sun_family = AF_UNIX;
    path.copy(d.address.sun_path, path.size());
    d.socket = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

void log(log_level level, std::string_view line) {
    switch (level) {
    case log_level::auth:
        return emit(LOG_AUTHPRIV | LOG_INFO, line);
    case log_level::error:
        return emit(LOG_DAEMON | LOG_ERR, line);
    case log_level::info:
        break;
    }
    emit(LOG_DAEMON | LOG_INFO, line);
}

void log_auth(std::string_view line) {
    log(log_level::auth, line);
}

void log_info(std::string_view line) {
    log(log_level::info, line);
}

void log_error(std::string_view line) {
    log(log_level::error, line);
}

} // namespace jobssh
