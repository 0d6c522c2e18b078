#pragma once

// Reading typed fields out of the runner's and meta's JSON answers, with errors that name
// the field and what was wrong with it. Private to runner.cpp and meta.cpp.

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_to.hpp>
#include <cstdint>
#include <jobssh/api/decoded.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace jobssh::json_fields {

class field_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A whole answer body, decoded with T's tag_invoke (which reads fields with the helpers
// below); anything but one JSON value of T's shape is an error.
template <class T>
decoded<T> decode(std::string_view body) {
    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(body, ec);
    if (ec)
        return decoded<T>::failed("not JSON: " + ec.message());
    try {
        return {boost::json::value_to<T>(value), {}};
    } catch (const field_error& error) {
        return decoded<T>::failed(error.what());
    }
}

inline const boost::json::object& as_object(const boost::json::value& value,
                                            std::string_view what) {
    if (!value.is_object())
        throw field_error(std::string(what) + " is not a JSON object");
    return value.get_object();
}

inline const boost::json::value& required(const boost::json::object& object,
                                          std::string_view name) {
    const boost::json::value* value = object.if_contains(name);
    if (!value)
        throw field_error("field \"" + std::string(name) + "\" is missing");
    return *value;
}

inline std::int64_t integer(const boost::json::value& value, std::string_view name) {
    if (value.is_int64())
        return value.get_int64();
    if (value.is_uint64() && value.get_uint64() <= INT64_MAX)
        return static_cast<std::int64_t>(value.get_uint64());
    throw field_error("field \"" + std::string(name) + "\" is not an integer");
}

inline std::int64_t integer(const boost::json::object& object, std::string_view name) {
    return integer(required(object, name), name);
}

inline std::string string(const boost::json::value& value, std::string_view name) {
    if (!value.is_string())
        throw field_error("field \"" + std::string(name) + "\" is not a string");
    return std::string(value.get_string());
}

inline std::string string(const boost::json::object& object, std::string_view name) {
    return string(required(object, name), name);
}

// A string that may be null (or absent, when the API allows it).
inline std::optional<std::string> nullable_string(const boost::json::object& object,
                                                  std::string_view name) {
    const boost::json::value* value = object.if_contains(name);
    if (!value || value->is_null())
        return std::nullopt;
    return string(*value, name);
}

} // namespace jobssh::json_fields
