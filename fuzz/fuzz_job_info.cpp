// The runner's answer to GET /job/{id}/info comes over the network: decode_job_info returns
// a job_info or throws json_fields::field_error (which fetch_job_info turns into "runner
// unavailable"), nothing else, and what it returns holds what the fields said.
#include "check.hpp"
#include "json_fields.hpp"

#include <boost/json/parse.hpp>
#include <jobssh/api/runner.hpp>

using jobssh::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
    const std::string_view body = jobssh::fuzz::text_of(data, size);
    try {
        const jobssh::job_info info = jobssh::decode_job_info(body);
        const boost::json::value value = boost::json::parse(body);
        const boost::json::object& object = value.as_object();
        check(object.at("username").as_string() == info.username, "username is the field's");
        check(object.at("status").as_string() == info.status, "status is the field's");
        check(object.at("port").to_number<std::int64_t>() == info.port, "port is the field's");
        (void)jobssh::job_finished(info);
    } catch (const jobssh::json_fields::field_error&) {
    }
    return 0;
}
