#pragma once

// Reading tail's output back apart: the lines of one log, the job's own or a task's.

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace jobssh::testing {

// The lines of the log of `task` in tail's output, without their "[<task>] " prefix; with
// no task, the job log's lines (those that carry none of the `tasks` prefixes).
inline std::string lines_of(std::string_view output, const std::vector<std::string>& tasks,
                            const std::string& task = "") {
    std::string prefix = task.empty() ? "" : "[" + task + "] ";
    std::string lines;
    std::size_t at = 0;
    while (at < output.size()) {
        std::size_t end = output.find('\n', at);
        end = end == std::string_view::npos ? output.size() : end + 1;
        std::string_view line = output.substr(at, end - at);
        bool is_task_line = std::any_of(tasks.begin(), tasks.end(), [&](const std::string& t) {
            return line.starts_with("[" + t + "] ");
        });
        if (task.empty() ? !is_task_line : line.starts_with(prefix))
            lines += line.substr(prefix.size());
        at = end;
    }
    return lines;
}

} // namespace jobssh::testing
