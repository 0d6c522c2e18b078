#include <algorithm>
#include <jobssh/common/ssh_key_format.hpp>

namespace jobssh {

bool valid_key_type(std::string_view key_type) {
    return !key_type.empty() && key_type.size() <= 256 &&
           std::all_of(key_type.begin(), key_type.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '@' || c == '.' ||
                      c == '-';
           });
}

bool valid_key(std::string_view b64key) {
    if (b64key.empty() || b64key.size() > longest_key || b64key.size() % 4 != 0)
        return false;
    auto data = b64key.substr(0, b64key.find_last_not_of('=') + 1);
    if (b64key.size() - data.size() > 2)
        return false;
    return std::all_of(data.begin(), data.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '+' || c == '/';
    });
}

} // namespace jobssh
