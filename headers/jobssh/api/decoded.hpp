#pragma once

// What decoding an API answer gives: the value, or what was wrong with the answer. A result,
// not an exception: a malformed answer is an answer the caller maps to a failure kind.

#include <optional>
#include <string>
#include <utility>

namespace jobssh {

template <class T>
struct decoded {
    std::optional<T> value;
    std::string error; // set when value is not

    static decoded failed(std::string why) { return {std::nullopt, std::move(why)}; }
    explicit operator bool() const noexcept { return value.has_value(); }
    T& operator*() { return *value; }
    const T& operator*() const { return *value; }
    const T* operator->() const { return &*value; }
};

} // namespace jobssh
