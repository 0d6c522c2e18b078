// meta's answer to GET /api/ssh-key/{key} comes over the network: decode_ssh_key returns
// an ssh_key or what was wrong with the answer (which lookup_key turns into a temporary
// failure), never throws, and the owner's name is exactly the field's: it is what decides
// whose jobs the key may reach.
#include "check.hpp"

#include <boost/json/parse.hpp>
#include <jobssh/api/meta.hpp>

using jobssh::fuzz::check;

// Opens as fuzz_job_info's does (`duplicates` lists the two): libFuzzer's entry point, then
// the decoder's answer taken or refused with a reason.
extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
    const std::string_view body = jobssh::fuzz::text_of(data, size);
    const jobssh::decoded<jobssh::ssh_key> decoded = jobssh::decode_ssh_key(body);
    if (!jobssh::fuzz::accepted(decoded))
        return 0;
    const jobssh::ssh_key& key = *decoded;
    const boost::json::value value = boost::json::parse(body);
    const boost::json::object& object = value.as_object();
    const boost::json::object& owner = object.at("owner").as_object();
    check(owner.at("name").as_string() == key.owner.name, "the owner is the field's");
    check(object.at("key").as_string() == key.key, "the key is the field's");
    return 0;
}
