// config.ini is written by an operator, and a broken one must give a message, not a crash:
// load_config returns a config or throws config_error, and what it returns is usable
// (timeouts within their bounds, origins without a trailing slash, a runner port).
#include "check.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <jobssh/common/config.hpp>
#include <string>

namespace fs = std::filesystem;
using jobssh::fuzz::check;

namespace {

const fs::path& config_file() {
    static const fs::path file = jobssh::fuzz::scratch_path("config");
    return file;
}

bool has_trailing_slash(const std::string& origin) {
    return !origin.empty() && origin.back() == '/';
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
    {
        std::ofstream out(config_file(), std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
        check(out.good(), "the fuzzer can write its config file");
    }
    try {
        const jobssh::config cfg = jobssh::load_config(config_file());
        using std::chrono::milliseconds;
        check(cfg.http_timeout > milliseconds(0) && cfg.http_timeout <= milliseconds(86400000),
              "http-timeout is more than 0 and at most a day");
        check(cfg.poll_interval > milliseconds(0) && cfg.poll_interval <= milliseconds(86400000),
              "poll-interval is more than 0 and at most a day");
        check(cfg.runner_port != 0, "the runner has a port");
        check(!cfg.runner_host.empty(), "the runner has a host");
        check(!has_trailing_slash(cfg.builds_origin) && !has_trailing_slash(cfg.meta_origin) &&
                  !has_trailing_slash(cfg.meta_api_origin),
              "origins have no trailing slash");
        check(!cfg.login_user.empty(), "there is a login user");
    } catch (const jobssh::config_error& error) {
        check(std::string_view(error.what()).starts_with(config_file().string()),
              "a config error names the file");
    }
    return 0;
}
