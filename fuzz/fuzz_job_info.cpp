// The runner's answer to GET /job/{id}/info comes over the network: decode_job_info returns
// a job_info or what was wrong with the answer (which fetch_job_info turns into "runner
// unavailable"), never throws, and what it returns holds what the fields said.
#include "check.hpp"

#include <boost/json/parse.hpp>
#include <jobssh/api/runner.hpp>

using jobssh::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
    const std::string_view body = jobssh::fuzz::text_of(data, size);
    const jobssh::decoded<jobssh::job_info> decoded = jobssh::decode_job_info(body);
    check(decoded || !decoded.error.empty(), "a refused answer says why");
    if (!decoded)
        return 0;
    const jobssh::job_info& info = *decoded;
    const boost::json::value value = boost::json::parse(body);
    const boost::json::object& object = value.as_object();
    check(object.at("username").as_string() == info.username, "username is the field's");
    check(object.at("status").as_string() == jobssh::to_string(info.status),
          "status is the field's");
    check(object.at("port").to_number<std::int64_t>() == info.port, "port is the field's");
    (void)jobssh::job_finished(info);
    return 0;
}
