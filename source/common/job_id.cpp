#include <charconv>
#include <jobssh/common/job_id.hpp>

namespace jobssh {

std::optional<job_id> parse_job_id(std::string_view text) {
    if (text.empty() || text.front() < '0' || text.front() > '9')
        return std::nullopt; // no sign, no blank
    job_id job = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), job, 10);
    if (error != std::errc{} || end != text.data() + text.size() || job < 1)
        return std::nullopt;
    return job;
}

} // namespace jobssh
