#pragma once

// What a fuzz target does when the code under test breaks a promise: say which one, then
// abort, which libFuzzer records as a crash with the input that caused it.

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

namespace jobssh::fuzz {

inline void check(bool holds, const char* promise) {
    if (holds)
        return;
    std::fprintf(stderr, "broken promise: %s\n", promise);
    std::abort();
}

// What a decoder of answers from the network made of one (a decoded<T>): true when it took
// it; a refusal must say why.
template <class Decoded>
bool accepted(const Decoded& decoded) {
    check(decoded || !decoded.error.empty(), "a refused answer says why");
    return static_cast<bool>(decoded);
}

inline std::string_view text_of(const unsigned char* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// A file or directory of this fuzzing process alone, in memory where /dev/shm is; removed
// when the process exits.
inline std::filesystem::path scratch_path(std::string_view name) {
    namespace fs = std::filesystem;
    static struct scratch {
        std::vector<fs::path> paths;
        ~scratch() {
            for (const fs::path& path : paths) {
                std::error_code ignored;
                fs::remove_all(path, ignored);
            }
        }
    } made;
    const fs::path base =
        fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    made.paths.push_back(base /
                         ("jobssh-fuzz-" + std::string(name) + "-" + std::to_string(::getpid())));
    return made.paths.back();
}

} // namespace jobssh::fuzz
