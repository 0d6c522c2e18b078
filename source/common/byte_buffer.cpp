#include <algorithm>
#include <cstring>
#include <jobssh/common/byte_buffer.hpp>
#include <ostream>

namespace jobssh {

void byte_buffer::reserve(std::size_t capacity) {
    if (capacity <= capacity_)
        return;
    std::unique_ptr<char[]> bigger(new char[capacity]); // default-initialized: not zeroed
    if (size_ != 0)
        std::memcpy(bigger.get(), data_.get(), size_);
    data_ = std::move(bigger);
    capacity_ = capacity;
}

char* byte_buffer::room(std::size_t bytes) {
    if (capacity_ - size_ < bytes)
        reserve(std::max(size_ + bytes, capacity_ * 2));
    return data_.get() + size_;
}

void byte_buffer::append(std::string_view bytes) {
    if (bytes.empty())
        return;
    std::memcpy(room(bytes.size()), bytes.data(), bytes.size());
    size_ += bytes.size();
}

std::ostream& operator<<(std::ostream& out, const byte_buffer& bytes) {
    return out << bytes.view();
}

} // namespace jobssh
