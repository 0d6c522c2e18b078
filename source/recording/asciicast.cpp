#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cerrno>
#include <charconv>
#include <jobssh/recording/asciicast.hpp>
#include <unistd.h>

namespace jobssh {

namespace json = boost::json;

namespace {

constexpr std::string_view replacement = "\\ufffd";

// How many bytes a character that starts with `lead` has; 0 when no character starts so.
std::size_t sequence_length(unsigned char lead) {
    if (lead >= 0xC2 && lead <= 0xDF)
        return 2;
    if (lead >= 0xE0 && lead <= 0xEF)
        return 3;
    if (lead >= 0xF0 && lead <= 0xF4)
        return 4;
    return 0;
}

// Whether `byte` can follow at `index` (1..3) in a sequence that starts with `lead`: the
// second byte is narrowed to refuse overlong forms, surrogates and code points past U+10FFFF.
bool continues(unsigned char lead, std::size_t index, unsigned char byte) {
    unsigned char low = 0x80, high = 0xBF;
    if (index == 1) {
        if (lead == 0xE0)
            low = 0xA0;
        else if (lead == 0xED)
            high = 0x9F;
        else if (lead == 0xF0)
            low = 0x90;
        else if (lead == 0xF4)
            high = 0x8F;
    }
    return byte >= low && byte <= high;
}

void escape_ascii(unsigned char c, std::string& out) {
    static constexpr char hex[] = "0123456789abcdef";
    switch (c) {
    case '"':
        out += "\\\"";
        return;
    case '\\':
        out += "\\\\";
        return;
    case '\n':
        out += "\\n";
        return;
    case '\r':
        out += "\\r";
        return;
    case '\t':
        out += "\\t";
        return;
    default:
        break;
    }
    if (c < 0x20 || c == 0x7F) {
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 0xF];
        return;
    }
    out += static_cast<char>(c);
}

void append_number(std::string& out, long long n) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
    out.append(digits, end);
}

// Seconds with six decimals, from microseconds, without floating point.
void append_seconds(std::string& out, std::chrono::microseconds time) {
    long long us = std::max<long long>(time.count(), 0);
    append_number(out, us / 1000000);
    char fraction[7] = "000000";
    long long rest = us % 1000000;
    for (int i = 5; i >= 0; --i, rest /= 10)
        fraction[i] = static_cast<char>('0' + rest % 10);
    out += '.';
    out.append(fraction, 6);
}

// One line of an asciicast file as JSON; nullopt when it is not JSON.
std::optional<json::value> parsed_line(std::string_view line) {
    boost::system::error_code ec;
    json::value value = json::parse(line, ec);
    if (ec)
        return std::nullopt;
    return value;
}

} // namespace

void utf8_json_encoder::encode(std::string_view bytes, std::string& out) {
    std::string joined;
    std::string_view text = bytes;
    if (!pending_.empty()) {
        joined = std::move(pending_) + std::string(bytes);
        pending_.clear();
        text = joined;
    }
    out.reserve(out.size() + text.size() + 2);
    out += '"';
    std::size_t i = 0;
    while (i < text.size()) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            // Runs of plain printable ASCII, the bulk of a screen, are copied whole.
            std::size_t run = i;
            while (run < text.size()) {
                auto r = static_cast<unsigned char>(text[run]);
                if (r < 0x20 || r >= 0x7F || r == '"' || r == '\\')
                    break;
                ++run;
            }
            if (run > i) {
                out.append(text.data() + i, run - i);
                i = run;
                continue;
            }
            escape_ascii(c, out);
            ++i;
            continue;
        }
        std::size_t length = sequence_length(c);
        std::size_t valid = length == 0 ? 0 : 1;
        while (valid > 0 && valid < length && i + valid < text.size() &&
               continues(c, valid, static_cast<unsigned char>(text[i + valid])))
            ++valid;
        if (length != 0 && valid == length) {
            out.append(text.data() + i, length);
            i += length;
        } else if (length != 0 && i + valid == text.size()) {
            pending_.assign(text.data() + i, valid); // the rest comes with the next read
            break;
        } else {
            out += replacement;
            i += std::max<std::size_t>(valid, 1);
        }
    }
    out += '"';
}

std::string header_line(const asciicast_header& header) {
    json::object env;
    if (!header.term.empty())
        env["TERM"] = header.term;
    json::object object;
    object["version"] = 2;
    object["width"] = header.size.columns;
    object["height"] = header.size.rows;
    object["timestamp"] = header.timestamp;
    object["title"] = header.title;
    object["env"] = std::move(env);
    return json::serialize(object) + "\n";
}

std::optional<asciicast_header> parse_header(std::string_view line) {
    boost::system::error_code ec;
    auto value = parsed_line(line);
    if (!value || !value->is_object())
        return std::nullopt;
    const json::object& object = value->get_object();
    auto integer = [&](std::string_view key) -> std::optional<std::int64_t> {
        const json::value* field = object.if_contains(key);
        if (!field || !field->is_number())
            return std::nullopt;
        auto n = field->to_number<std::int64_t>(ec);
        if (ec)
            return std::nullopt;
        return n;
    };
    auto version = integer("version");
    auto width = integer("width");
    auto height = integer("height");
    if (version != 2 || !width || !height || *width <= 0 || *height <= 0 || *width > 0xFFFF ||
        *height > 0xFFFF)
        return std::nullopt;
    asciicast_header header;
    header.size.columns = static_cast<unsigned short>(*width);
    header.size.rows = static_cast<unsigned short>(*height);
    header.timestamp = integer("timestamp").value_or(0);
    if (const json::value* title = object.if_contains("title"); title && title->is_string())
        header.title = title->get_string();
    if (const json::value* env = object.if_contains("env"); env && env->is_object())
        if (const json::value* term = env->get_object().if_contains("TERM");
            term && term->is_string())
            header.term = term->get_string();
    return header;
}

std::optional<asciicast_event> parse_event(std::string_view line) {
    auto value = parsed_line(line);
    if (!value || !value->is_array() || value->get_array().size() != 3)
        return std::nullopt;
    const json::array& array = value->get_array();
    boost::system::error_code ec;
    if (!array[0].is_number() || !array[1].is_string() || !array[2].is_string() ||
        array[1].get_string().size() != 1)
        return std::nullopt;
    double seconds = array[0].to_number<double>(ec);
    if (ec || !(seconds >= 0) || seconds > 1e9)
        return std::nullopt;
    asciicast_event event;
    event.time = std::chrono::microseconds(static_cast<long long>(seconds * 1e6 + 0.5));
    event.code = array[1].get_string()[0];
    event.data = array[2].get_string();
    return event;
}

asciicast_writer::asciicast_writer(unique_fd file, const asciicast_header& header,
                                   std::chrono::steady_clock::time_point start)
    : file_(std::move(file))
    , start_(start) {
    line_ = header_line(header);
    write_line();
}

void asciicast_writer::event(char code, utf8_json_encoder& encoder, std::string_view bytes) {
    if (error_)
        return;
    line_.clear();
    line_ += '[';
    append_seconds(line_, std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now() - start_));
    line_ += ", \"";
    line_ += code;
    line_ += "\", ";
    std::size_t before = line_.size();
    encoder.encode(bytes, line_);
    if (line_.size() - before == 2)
        return; // only the start of a character so far: it goes out with the rest
    line_ += "]\n";
    write_line();
}

void asciicast_writer::output(std::string_view bytes) {
    event('o', output_, bytes);
}

void asciicast_writer::input(std::string_view keys) {
    event('i', input_, keys);
}

void asciicast_writer::resize(window_size size) {
    std::string text = std::to_string(size.columns) + "x" + std::to_string(size.rows);
    utf8_json_encoder plain;
    event('r', plain, text);
}

void asciicast_writer::write_line() {
    if (error_)
        return;
    std::string_view rest = line_;
    while (!rest.empty()) {
        ssize_t n = ::write(file_.get(), rest.data(), rest.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            error_ = n < 0 ? errno : ENOSPC;
            // A cut-off line would keep players from loading the file.
            [[maybe_unused]] int cut = ::ftruncate(file_.get(), written_);
            return;
        }
        rest.remove_prefix(static_cast<std::size_t>(n));
    }
    written_ += static_cast<long long>(line_.size());
}

void asciicast_writer::sync() {
    if (file_)
        ::fdatasync(file_.get());
}

} // namespace jobssh
