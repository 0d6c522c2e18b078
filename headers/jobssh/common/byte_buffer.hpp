#pragma once

// Bytes on their way to the user: a growable buffer that, unlike std::string, hands out
// room to write into without zero-filling it first (a tail fills hundreds of KiB per batch).

#include <cstddef>
#include <iosfwd>
#include <memory>
#include <string_view>

namespace jobssh {

class byte_buffer {
public:
    byte_buffer() = default;
    byte_buffer(byte_buffer&&) noexcept = default;
    byte_buffer& operator=(byte_buffer&&) noexcept = default;

    const char* data() const { return data_.get(); }
    std::size_t size() const { return size_; }
    std::size_t capacity() const { return capacity_; }
    bool empty() const { return size_ == 0; }
    std::string_view view() const { return {data_.get(), size_}; }
    operator std::string_view() const { return view(); }

    void reserve(std::size_t capacity);
    void clear() { size_ = 0; }
    void append(std::string_view bytes);
    byte_buffer& operator+=(std::string_view bytes) {
        append(bytes);
        return *this;
    }
    byte_buffer& operator+=(char c) {
        append(std::string_view(&c, 1));
        return *this;
    }

    // Room for at least `bytes` more after the end, not initialized, valid up to
    // data() + capacity() until the buffer grows; commit() then takes what was written.
    char* room(std::size_t bytes);
    void commit(std::size_t bytes) { size_ += bytes; }

    friend bool operator==(const byte_buffer& a, std::string_view b) { return a.view() == b; }

private:
    std::unique_ptr<char[]> data_;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
};

std::ostream& operator<<(std::ostream& out, const byte_buffer& bytes);

} // namespace jobssh
