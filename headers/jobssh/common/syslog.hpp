#pragma once

// Operators read what happened in syslog (the journal); users never see these lines.
// One line per event, as key=value pairs: `job=4211 user=alice outcome=not_permitted`.

#include <string_view>

namespace jobssh {

enum class log_level {
    info,  // LOG_DAEMON | LOG_INFO
    auth,  // LOG_AUTHPRIV | LOG_INFO: authentication decisions
    error, // LOG_DAEMON | LOG_ERR
};

void open_syslog(const char* ident); // "jobssh-keys", "jobssh-shell"
void log(log_level level, std::string_view line);
void log_auth(std::string_view line);
void log_info(std::string_view line);
void log_error(std::string_view line);

} // namespace jobssh
