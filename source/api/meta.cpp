#include "fetch.hpp"
#include "json_fields.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value_to.hpp>
#include <jobssh/api/http_client.hpp>
#include <jobssh/api/meta.hpp>
#include <jobssh/common/config.hpp>
#include <jobssh/common/failure.hpp>

namespace jobssh {

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

decoded<ssh_key> decode_ssh_key(std::string_view body) {
    return json_fields::decode<ssh_key>(body);
}

namespace {

bool is_base64(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '+' || c == '/' || c == '=';
    });
}

} // namespace

boost::asio::awaitable<std::optional<ssh_key>> lookup_key(const config& cfg,
                                                          std::string_view b64key) {
    // Nothing meta could know: no need to ask it, nor to put odd bytes in a request line.
    if (!is_base64(b64key))
        co_return std::nullopt;

    http_origin origin;
    try {
        origin = parse_http_origin(cfg.meta_api_origin);
    } catch (const std::invalid_argument& error) {
        throw failure_error(failure::config, std::string("[meta.sr.ht] origin: ") + error.what());
    }
    // The key goes in the path as it is, as buildsrht-shell sends it ('/' included). Meta
    // down, slow or confused is a temporary failure of authentication.
    http_request request{"GET", "/api/ssh-key/" + std::string(b64key), cfg.http_timeout};
    // Named first: GCC 12 miscompiles braced initializers in a co_await expression.
    constexpr api::failure_kinds meta_failures{failure::temporary, failure::temporary};
    std::string what = "meta: key lookup";
    co_return co_await api::fetch(origin, std::move(request), meta_failures, std::move(what),
                                  &decode_ssh_key);
}

} // namespace jobssh
