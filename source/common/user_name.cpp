#include <algorithm>
#include <jobssh/common/user_name.hpp>

namespace jobssh {

bool valid_user_name(std::string_view name) {
    if (name.empty() || name.size() > longest_user_name)
        return false;
    auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
    if (!lower(name.front()) && name.front() != '_')
        return false;
    return std::all_of(name.begin(), name.end(), [&](char c) {
        return lower(c) || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
}

} // namespace jobssh
