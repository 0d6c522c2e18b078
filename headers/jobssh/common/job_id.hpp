#pragma once

// A build job's number, as builds.sr.ht numbers them.

#include <cstdint>
#include <optional>
#include <string_view>

namespace jobssh {

using job_id = std::int64_t; // 1 … 2^63-1

// A decimal job id in 1 … 2^63-1, nothing else ("-1", "0x10", "1e3", "" are not).
std::optional<job_id> parse_job_id(std::string_view text);

} // namespace jobssh
