#include <algorithm>
#include <cstddef>
#include <jobssh/common/ssh_key_format.hpp>
// OpenSSL 3 marks SHA256_Init/Update/Final deprecated in favour of EVP (see below).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <string>

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

std::string key_fingerprint(std::string_view b64key) {
    // OpenSSL's base64 and SHA-256 (libcrypto, which OpenSSH itself links; the programs take
    // its archive, so that only these few objects are loaded). The decoder counts '='
    // padding as zero bytes, so they are taken off again.
    std::string key((b64key.size() / 4) * 3, '\0');
    int length = ::EVP_DecodeBlock(reinterpret_cast<unsigned char*>(key.data()),
                                   reinterpret_cast<const unsigned char*>(b64key.data()),
                                   static_cast<int>(b64key.size()));
    if (length < 0)
        return "SHA256:?";
    auto padding = b64key.size() - (b64key.find_last_not_of('=') + 1);
    key.resize(static_cast<std::size_t>(length) - std::min<std::size_t>(padding, length));

    // The digest's own functions, not EVP: EVP would load OpenSSL's providers and its config
    // file, costing jobssh-keys (started for every key a client offers) its start-up time.
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256_CTX context;
    ::SHA256_Init(&context);
    ::SHA256_Update(&context, key.data(), key.size());
    ::SHA256_Final(digest, &context);
    const unsigned int digest_length = SHA256_DIGEST_LENGTH;
    std::string text(4 * ((digest_length + 2) / 3) + 1, '\0');
    int written = ::EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()), digest,
                                    static_cast<int>(digest_length));
    text.resize(static_cast<std::size_t>(written));
    // OpenSSH prints the digest's base64 without padding.
    text.erase(text.find_last_not_of('=') + 1);
    return "SHA256:" + text;
}

} // namespace jobssh
