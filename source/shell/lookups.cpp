#include <algorithm>
#include <jobssh/common/ssh_key_format.hpp>
#include <jobssh/shell/lookups.hpp>

namespace jobssh {

boost::asio::awaitable<std::optional<ssh_key>> key_of(const config& cfg, std::string b64key,
                                                      std::optional<std::string> owner) {
    if (!owner)
        co_return co_await lookup_key(cfg, b64key);
    if (!valid_key(b64key)) // as lookup_key: not a key anyone has
        co_return std::nullopt;
    ssh_key key;
    key.fingerprint = key_fingerprint(b64key);
    key.key = std::move(b64key);
    key.owner = key_owner{"~" + *owner, *owner};
    co_return key;
}

bool may_view(const command& cmd, const job_info& info, const std::string& user) {
    if (!std::holds_alternative<watch_command>(cmd) && !std::holds_alternative<replay_command>(cmd))
        return false;
    return std::find(info.viewers.begin(), info.viewers.end(), user) != info.viewers.end();
}

} // namespace jobssh
