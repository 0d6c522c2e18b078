#include <algorithm>
#include <cstring>
#include <utility>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <jobssh/tail/line_assembly.hpp>

namespace jobssh {

namespace {

// A continuation byte of a UTF-8 sequence (10xxxxxx).
bool continuation_byte(char c) {
    return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// A partial buffer keeps up to this much capacity between lines.
constexpr std::size_t partial_capacity_kept = 4 * 1024;

} // namespace

// Lines of build logs are short: one pass copies 16 bytes at a time and finds the line
// ends on the way. Finding each line end first and then appending the prefix and the line
// took 1.6 times as long.
void copy_prefixed(std::string_view text, std::string_view prefix, bool& line_start,
                   byte_buffer& to) {
    const char* from = text.data();
    const char* const end = from + text.size();
    const std::size_t width = prefix.size();
    // The prefix, padded, for the stores of the loop below.
    constexpr std::size_t padded = 32;
    char pad[padded] = {};
    std::memcpy(pad, prefix.data(), std::min(width, padded));
    auto put_prefix = [&](char* at) {
        if (width <= padded)
            std::memcpy(at, pad, padded); // a constant size: two stores
        else
            std::memcpy(at, prefix.data(), width);
    };
    // Each store may reach this far past where the output stands.
    const std::size_t reach = 16 + std::max(width, padded);
    while (from != end) {
        // A tenth more than the text is typical; a quarter more is asked for, and the loop
        // stops to ask again when a run of short lines needs more.
        std::size_t left = static_cast<std::size_t>(end - from);
        char* const begin = to.room(left + left / 4 + reach + 16);
        char* const limit = begin + (to.capacity() - to.size());
        char* at = begin;
        if (line_start) {
            put_prefix(at);
            at += width;
            line_start = false;
        }
#if defined(__SSE2__)
        const __m128i newline = _mm_set1_epi8('\n');
        while (end - from >= 16 && static_cast<std::size_t>(limit - at) >= reach) {
            auto block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from));
            auto mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(block, newline)));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(at), block);
            if (mask == 0) {
                from += 16;
                at += 16;
                continue;
            }
            auto through = static_cast<std::size_t>(__builtin_ctz(mask)) + 1;
            from += through;
            at += through;
            if (from == end) {
                line_start = true;
                break;
            }
            put_prefix(at);
            at += width;
        }
#endif
        while (from != end && static_cast<std::size_t>(limit - at) >= reach) {
            char c = *from++;
            *at++ = c;
            if (c != '\n')
                continue;
            if (from == end) {
                line_start = true;
                break;
            }
            put_prefix(at);
            at += width;
        }
        to.commit(static_cast<std::size_t>(at - begin));
    }
}

std::size_t utf8_boundary(std::string_view text) {
    std::size_t end = text.size();
    std::size_t back = 0;
    while (back < 4 && back < end && continuation_byte(text[end - 1 - back]))
        ++back;
    if (back == end)
        return end; // not UTF-8 at all: nothing to keep whole
    unsigned char lead = static_cast<unsigned char>(text[end - 1 - back]);
    std::size_t length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    return length > back + 1 ? end - 1 - back : end;
}

line_assembler::line_assembler(std::string prefix, std::size_t chunk_size)
    : prefix_(std::move(prefix))
    , chunk_size_(std::max<std::size_t>(chunk_size, 1)) {}

void line_assembler::emit(std::string_view bytes, bool& line_start, byte_buffer& out) const {
    if (bytes.empty())
        return;
    if (prefix_.empty()) // the job log: its bytes as they are
        out.append(bytes);
    else
        copy_prefixed(bytes, prefix_, line_start, out);
}

void line_assembler::take(std::string_view fresh, byte_buffer& out) {
    if (fresh.empty())
        return;
    // The line a cut piece belonged to ends here: its newline went out with the piece.
    if (std::exchange(after_cut_, false) && partial_.empty() && fresh.front() == '\n')
        fresh.remove_prefix(1);
    auto last_newline = fresh.rfind('\n');
    if (last_newline != std::string_view::npos) {
        // The held-back bytes begin the first of these lines.
        bool line_start = true;
        emit(partial_, line_start, out);
        emit(fresh.substr(0, last_newline + 1), line_start, out);
        fresh.remove_prefix(last_newline + 1);
        clear_partial();
    }
    partial_.append(fresh);
    if (partial_.size() < chunk_size_)
        return;
    // An overlong line (rare): a piece that ends on a character boundary goes out as a line
    // of its own, so whatever another log writes next starts on a line of its own too.
    std::size_t piece = utf8_boundary(partial_);
    if (piece == 0)
        return; // only the first bytes of one character: wait for the rest of it
    bool line_start = true;
    emit(std::string_view(partial_).substr(0, piece), line_start, out);
    out += '\n';
    after_cut_ = true;
    std::string rest = partial_.substr(piece); // the first bytes of one character
    clear_partial();
    partial_ = std::move(rest);
}

// A partial buffer that held a long line gives its memory back once the line went out:
// a tail follows every log of a job for as long as the job runs.
void line_assembler::clear_partial() {
    if (partial_.capacity() > partial_capacity_kept)
        std::string().swap(partial_);
    else
        partial_.clear();
}

void line_assembler::flush(byte_buffer& out) {
    if (!partial_.empty()) {
        bool line_start = true;
        emit(partial_, line_start, out);
        out += '\n';
    }
    clear_partial();
    after_cut_ = false;
}

} // namespace jobssh
