#include <algorithm>
#include <cstdint>
#include <jobssh/common/sha256.hpp>
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

namespace {

constexpr std::string_view base64_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_decode(std::string_view text) {
    std::string bytes;
    std::uint32_t bits = 0;
    int count = 0;
    for (char c : text) {
        auto value = base64_alphabet.find(c);
        if (value == std::string_view::npos)
            break; // '=' padding
        bits = (bits << 6) | static_cast<std::uint32_t>(value);
        count += 6;
        if (count >= 8) {
            count -= 8;
            bytes += static_cast<char>((bits >> count) & 0xff);
        }
    }
    return bytes;
}

} // namespace

std::string key_fingerprint(std::string_view b64key) {
    auto digest = sha256(base64_decode(b64key));
    std::string text = "SHA256:";
    std::uint32_t bits = 0;
    int count = 0;
    for (auto byte : digest) {
        bits = (bits << 8) | byte;
        count += 8;
        while (count >= 6) {
            count -= 6;
            text += base64_alphabet[(bits >> count) & 0x3f];
        }
    }
    if (count > 0)
        text += base64_alphabet[(bits << (6 - count)) & 0x3f];
    return text;
}

} // namespace jobssh
