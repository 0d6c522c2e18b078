#include "json_fields.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value_to.hpp>
#include <jobssh/api/http_client.hpp>
#include <jobssh/api/meta.hpp>
#include <jobssh/common/config.hpp>
#include <jobssh/common/failure.hpp>

namespace jobssh {

namespace asio = boost::asio;
namespace json = boost::json;

key_owner tag_invoke(json::value_to_tag<key_owner>, const json::value& value) {
    using namespace json_fields;
    const json::object& object = as_object(value, "field \"owner\"");
    return key_owner{string(object, "canonical_name"), string(object, "name")};
}

ssh_key tag_invoke(json::value_to_tag<ssh_key>, const json::value& value) {
    using namespace json_fields;
    const json::object& object = as_object(value, "the key");
    ssh_key key;
    key.id = integer(object, "id");
    // meta.sr.ht sends null for a key without a comment.
    key.authorized = nullable_string(object, "authorized").value_or("");
    key.comment = nullable_string(object, "comment").value_or("");
    key.fingerprint = string(object, "fingerprint");
    key.key = string(object, "key");
    key.owner = json::value_to<key_owner>(required(object, "owner"));
    return key;
}

ssh_key decode_ssh_key(std::string_view body) {
    return json::value_to<ssh_key>(json_fields::parse(body));
}

namespace {

bool is_base64(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '+' || c == '/' || c == '=';
    });
}

} // namespace

asio::awaitable<std::optional<ssh_key>> lookup_key(const config& cfg, std::string_view b64key) {
    // Nothing meta could know: no need to ask it, nor to put odd bytes in a request line.
    if (!is_base64(b64key))
        co_return std::nullopt;

    http_origin origin;
    try {
        origin = parse_http_origin(cfg.meta_api_origin);
    } catch (const std::invalid_argument& error) {
        throw failure_error(failure::config, std::string("[meta.sr.ht] origin: ") + error.what());
    }
    // The key goes in the path as it is, as buildsrht-shell sends it ('/' included).
    http_request request{"GET", "/api/ssh-key/" + std::string(b64key), cfg.http_timeout};
    http_response response;
    try {
        response = co_await send_request(origin, request);
    } catch (const http_error& error) {
        throw failure_error(failure::temporary, std::string("meta: ") + error.what());
    }
    if (response.status == 404)
        co_return std::nullopt;
    if (response.status != 200)
        throw failure_error(failure::temporary,
                            "meta: key lookup: status " + std::to_string(response.status));
    try {
        co_return decode_ssh_key(response.body);
    } catch (const json_fields::field_error& error) {
        throw failure_error(failure::temporary, std::string("meta: key lookup: ") + error.what());
    }
}

} // namespace jobssh
