#pragma once

// The faults a test asks of the fake runner and meta (sandbox::runner_fault, meta_fault): for
// a while, cleared after; and the answers with a body of the test's choosing.

#include "sandbox.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace jobssh::testing {

// `text` as a JSON string: quoted, with its quotes, backslashes and newlines escaped.
inline std::string json_quoted(const std::string& text) {
    std::string quoted = "\"";
    for (char c : text) {
        if (c == '\n') {
            quoted += "\\n";
            continue;
        }
        if (c == '"' || c == '\\')
            quoted += '\\';
        quoted += c;
    }
    return quoted + "\"";
}

// The fault that answers `status` with `body` as application/json; with `match`, only
// requests whose path holds it.
inline std::string json_answer(unsigned status, const std::string& body,
                               const std::string& match = "") {
    std::string fault = R"({"status": )" + std::to_string(status) +
                        R"(, "content_type": "application/json", "body": )" + json_quoted(body);
    if (!match.empty())
        fault += R"(, "match": )" + json_quoted(match);
    return fault + "}";
}

enum class fault_of { meta, runner };

// A fault of meta's or the runner's for as long as this lives: cleared ("{}") when it goes,
// also when a check in between failed.
class fault_for_a_while {
public:
    fault_for_a_while(fixtures::sandbox& box, fault_of service, std::string_view fault)
        : box_(box)
        , service_(service) {
        set(fault);
    }
    ~fault_for_a_while() { set("{}"); }
    fault_for_a_while(const fault_for_a_while&) = delete;
    fault_for_a_while& operator=(const fault_for_a_while&) = delete;

private:
    void set(std::string_view fault) {
        if (service_ == fault_of::meta)
            box_.meta_fault(fault);
        else
            box_.runner_fault(fault);
    }
    fixtures::sandbox& box_;
    fault_of service_;
};

// jobssh-shell run once, as alice, while `service` has `fault` (sandbox::run_shell's bound).
inline fixtures::run_result
shell_under_fault(fixtures::sandbox& box, fault_of service, std::string_view fault,
                  std::string_view command, std::chrono::seconds bound = std::chrono::seconds(60)) {
    fault_for_a_while during(box, service, fault);
    return box.run_shell("alice", command, std::nullopt, bound);
}

} // namespace jobssh::testing
