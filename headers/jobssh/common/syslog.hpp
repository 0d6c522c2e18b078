#pragma once

// Operators read what happened in syslog (the journal); users never see these lines.
// One line per event, as key=value pairs: `job=4211 user=alice outcome=not_permitted`.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace jobssh {

enum class log_level {
    info,  // LOG_DAEMON | LOG_INFO
    auth,  // LOG_AUTHPRIV | LOG_INFO: authentication decisions
    error, // LOG_DAEMON | LOG_ERR
};

// Builds one key=value line. A value with a space, quote, backslash, '=' or a control
// character (or an empty one) is quoted, quotes and backslashes escaped with a backslash and
// control characters written \xNN, so the line splits cleanly whatever a client sent.
class log_fields {
public:
    log_fields& add(std::string_view key, std::string_view value);
    log_fields& add(std::string_view key, const char* value) {
        return add(key, std::string_view(value));
    }
    log_fields& add(std::string_view key, std::int64_t value);
    const std::string& line() const noexcept { return line_; }
    operator std::string_view() const noexcept { return line_; }

private:
    std::string line_;
};

void open_syslog(const char* ident); // "jobssh-keys", "jobssh-shell"
// From now on, records go to this unix datagram socket ([jobssh] syslog-socket) in the
// format syslog(3) writes to /dev/log; empty: syslog(3). A record the socket does not take
// goes to syslog(3), so none is lost for want of a reader.
void send_syslog_to(const std::filesystem::path& socket);
void log(log_level level, std::string_view line);
void log_auth(std::string_view line);
void log_info(std::string_view line);
void log_error(std::string_view line);

} // namespace jobssh
