#include <jobssh/common/syslog.hpp>
#include <string>
#include <syslog.h>

namespace jobssh {

namespace {

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
        if (c < 0x20 || c == 0x7f) {
            constexpr char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

void emit(int priority, std::string_view line) {
    const std::string text = printable(line);
    ::syslog(priority, "%s", text.c_str());
}

} // namespace

log_fields& log_fields::add(std::string_view key, std::string_view value) {
    if (!line_.empty())
        line_ += ' ';
    line_ += key;
    line_ += '=';
    if (!value.empty() && value.find_first_of(" \"\\=") == std::string_view::npos) {
        line_ += value;
        return *this;
    }
    line_ += '"';
    for (char c : value) {
        if (c == '"' || c == '\\')
            line_ += '\\';
        line_ += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
    }
    line_ += '"';
    return *this;
}

log_fields& log_fields::add(std::string_view key, std::int64_t value) {
    return add(key, std::string_view(std::to_string(value)));
}

void open_syslog(const char* ident) {
    ::openlog(ident, LOG_PID, LOG_DAEMON);
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
