#pragma once

// Operators read what happened in syslog (the journal); users never see these lines.
// One line per event, as key=value pairs: `job=4211 user=alice outcome=not_permitted`.

#include <filesystem>
#include <string_view>

namespace jobssh {

void open_syslog(const char* ident); // "jobssh-keys", "jobssh-shell"
// From now on, records go to this unix datagram socket ([jobssh] syslog-socket) in the
// format syslog(3) writes to /dev/log; empty: syslog(3). A record the socket does not take
// goes to syslog(3), so none is lost for want of a reader.
void send_syslog_to(const std::filesystem::path& socket);
void log_auth(std::string_view line);  // LOG_AUTHPRIV | LOG_INFO: authentication decisions
void log_info(std::string_view line);  // LOG_DAEMON | LOG_INFO
void log_error(std::string_view line); // LOG_DAEMON | LOG_ERR

} // namespace jobssh
