// jobssh-keys USER HOME KEYTYPE B64KEY: sshd's AuthorizedKeysCommand.
#include <exception>
#include <filesystem>
#include <iostream>
#include <jobssh/common/syslog.hpp>
#include <jobssh/keys/keys.hpp>
#include <string_view>
#include <system_error>
#include <vector>

int main(int argc, char** argv) {
    jobssh::open_syslog("jobssh-keys");
    try {
        std::vector<std::string_view> args;
        for (int i = 1; i < argc; ++i)
            args.emplace_back(argv[i]);
        // The default jobssh-shell is the one installed beside this program.
        std::error_code error;
        auto self = std::filesystem::read_symlink("/proc/self/exe", error);
        if (error && argc > 0)
            self = std::filesystem::absolute(argv[0]);
        int status = jobssh::run_keys(args, std::cout, std::cerr, self.parent_path());
        std::cout.flush();
        return std::cout ? status : 74; // EX_IOERR: sshd did not get the line
    } catch (const std::exception& error) {
        jobssh::log_error(std::string("jobssh-keys failed: ") + error.what());
        std::cerr << "jobssh-keys: internal error\n";
        return 70; // EX_SOFTWARE
    }
}
