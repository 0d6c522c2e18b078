#include <cerrno>
#include <cstring>
#include <fstream>
#include <jobssh/common/config.hpp>
#include <jobssh/common/gateway_keys.hpp>
#include <string>

namespace jobssh {

bool listed_gateway_key(const std::filesystem::path& file, std::string_view b64key) {
    std::ifstream in(file);
    if (!in)
        throw config_error(file.string() +
                           ": cannot read the gateway keys: " + std::strerror(errno));
    for (std::string line; std::getline(in, line);) {
        auto first = line.find_first_not_of(" \t");
        if (first == std::string::npos || line[first] == '#')
            continue;
        auto type_end = line.find_first_of(" \t", first);
        if (type_end == std::string::npos)
            continue;
        auto key_start = line.find_first_not_of(" \t", type_end);
        if (key_start == std::string::npos)
            continue;
        auto key_end = line.find_first_of(" \t\r", key_start);
        std::string_view key = std::string_view(line).substr(
            key_start, key_end == std::string::npos ? std::string::npos : key_end - key_start);
        if (key == b64key)
            return true;
    }
    return false;
}

} // namespace jobssh
