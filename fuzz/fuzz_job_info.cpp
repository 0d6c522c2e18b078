// The runner's answer to GET /job/{id}/info comes over the network: decode_job_info returns
// a job_info or what was wrong with the answer (which fetch_job_info turns into "runner
// unavailable"), never throws, and what it returns holds what every field said. What the
// runner names reaches ssh's command line and a known_hosts file: an ssh_user or ssh_host
// that could pass for an option, or a host key that could be a second line, is refused there
// (std::invalid_argument), never passed on.
#include "check.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <fstream>
#include <jobssh/api/runner.hpp>
#include <jobssh/common/config.hpp>
#include <jobssh/connect/vm_ssh.hpp>
#include <sstream>
#include <stdexcept>

using jobssh::fuzz::check;
namespace json = boost::json;

namespace {

// A word ssh would take as it is: not an option, not two words, not two lines.
bool one_plain_word(const std::string& word) {
    return !word.empty() && word.front() != '-' &&
           std::none_of(word.begin(), word.end(), [](char c) {
               return static_cast<unsigned char>(c) <= ' ' || c == '\x7f' || c == '@';
           });
}

void check_fields(const json::object& object, const jobssh::job_info& info) {
    check(object.at("deadline").to_number<std::int64_t>() ==
              info.deadline.time_since_epoch().count(),
          "deadline is the field's, in seconds since the epoch");
    check(object.at("manifest").as_string() == info.manifest, "manifest is the field's");
    // A nullable field: absent and null alike mean none.
    const json::value* note = object.if_contains("note");
    check(!note || note->is_null() ? !info.note : (info.note && note->as_string() == *info.note),
          "note is the field's, null or absent as none");
    check(object.at("owner_id").to_number<std::int64_t>() == info.owner_id,
          "owner_id is the field's");
    check(object.at("port").to_number<std::int64_t>() == info.port, "port is the field's");
    check(object.at("status").as_string() == jobssh::to_string(info.status),
          "status is the field's");
    check(object.at("task").to_number<std::int64_t>() == info.task, "task is the field's");
    check(object.at("tasks").to_number<std::int64_t>() == info.tasks, "tasks is the field's");
    check(object.at("username").as_string() == info.username, "username is the field's");

    const json::value* keys = object.if_contains("host_keys");
    if (!keys || keys->is_null()) {
        check(info.host_keys.empty(), "no host_keys field pins no key");
    } else {
        const json::array& list = keys->as_array();
        check(list.size() == info.host_keys.size(), "every host key is kept, none added");
        for (std::size_t i = 0; i < list.size(); ++i)
            check(list[i].as_string() == info.host_keys[i], "host keys are the field's, in order");
    }
    const json::value* user = object.if_contains("ssh_user");
    check(info.ssh_user == (user && !user->is_null() ? std::string(user->as_string()) : "build"),
          "ssh_user is the field's, build without one");
    const json::value* host = object.if_contains("ssh_host");
    check(info.ssh_host ==
              (host && !host->is_null() ? std::string(host->as_string()) : "localhost"),
          "ssh_host is the field's, localhost without one");
}

// ssh's destination is the one word after "--", and nothing the runner named comes before.
void check_ssh_argv(const jobssh::job_info& info) {
    const jobssh::config cfg;
    std::vector<std::string> argv;
    try {
        argv = jobssh::vm_ssh_argv(cfg, info, false, "true", {});
    } catch (const std::invalid_argument&) {
        return; // refused: nothing reaches ssh
    }
    check(one_plain_word(info.ssh_user) && one_plain_word(info.ssh_host),
          "an ssh_user or ssh_host that could pass for an option or a second word is refused");
    auto end_of_options = std::find(argv.begin(), argv.end(), "--");
    check(end_of_options != argv.end() && end_of_options + 1 != argv.end() &&
              *(end_of_options + 1) == info.ssh_user + "@" + info.ssh_host,
          "the destination follows -- as user@host");
}

// The known_hosts file has one line per pinned key, each naming the VM.
void check_known_hosts(const jobssh::job_info& info) {
    static const auto directory = jobssh::fuzz::scratch_path("job_info");
    std::string text;
    try {
        jobssh::pinned_host_keys pinned(directory, info);
        std::ifstream file(pinned.file(), std::ios::binary);
        text.assign(std::istreambuf_iterator<char>(file), {});
    } catch (const std::invalid_argument&) {
        return; // refused: no file for ssh to read
    }
    check(static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) ==
              info.host_keys.size(),
          "a host key is one line of known_hosts, never two");
    std::istringstream lines(text);
    std::string line;
    for (const auto& key : info.host_keys) {
        std::getline(lines, line);
        check(line.ends_with(" " + key) && line.find('\r') == std::string::npos,
              "each line is the VM's name and one pinned key");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
    const std::string_view body = jobssh::fuzz::text_of(data, size);
    const jobssh::decoded<jobssh::job_info> decoded = jobssh::decode_job_info(body);
    if (!jobssh::fuzz::accepted(decoded))
        return 0;
    const jobssh::job_info& info = *decoded;
    const json::value value = json::parse(body);
    check_fields(value.as_object(), info);
    check_ssh_argv(info);
    check_known_hosts(info);
    (void)jobssh::job_finished(info);
    return 0;
}
