#pragma once

// Operators read what happened in syslog (the journal); users never see these lines.
// One line per event, as key=value pairs: `job=4211 user=alice outcome=not_permitted`.

#include <string_view>

namespace jobssh {

void open_syslog(const char* ident);   // "jobssh-keys", "jobssh-shell"
void log_auth(std::string_view line);  // LOG_AUTHPRIV | LOG_INFO: authentication decisions
void log_info(std::string_view line);  // LOG_DAEMON | LOG_INFO
void log_error(std::string_view line); // LOG_DAEMON | LOG_ERR

} // namespace jobssh
