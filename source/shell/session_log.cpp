#include <jobssh/common/syslog.hpp>
#include <jobssh/shell/session_log.hpp>
#include <string>

namespace jobssh {

void log_session(const session_record& record, std::chrono::steady_clock::duration took,
                 const std::string& detail) {
    log_fields line;
    line.add("job", record.job ? std::to_string(*record.job) : "-")
        .add("user", record.user.empty() ? "-" : record.user)
        .add("key", record.fingerprint.empty() ? "-" : record.fingerprint);
    if (!record.gateway_key.empty())
        line.add("gateway_key", record.gateway_key);
    line.add("command", record.command.empty() ? "-" : record.command)
        .add("outcome", record.failed ? failure_name(*record.failed) : record.outcome)
        .add("exit", record.exit_code)
        .add("duration_ms", std::chrono::duration_cast<std::chrono::milliseconds>(took).count());
    if (!detail.empty())
        line.add("detail", detail);
    log(record.failed ? traits(*record.failed).level : log_level::info, line);
}

} // namespace jobssh
