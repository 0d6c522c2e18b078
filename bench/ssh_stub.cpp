// Stands in for ssh when scripts/bench measures jobssh-shell's own work before its ssh child
// starts: notes the moment it runs (CLOCK_MONOTONIC, ns) in "stamp" next to itself, exits 0.
// Only the first of a session's runs is noted: with [jobssh] multiplex the first ssh that
// jobssh-shell starts is the job's master (which the stub does not make, so the session's
// own ssh runs after it).
#include <cerrno>
#include <climits>
#include <cstdio>
#include <ctime>
#include <string>
#include <unistd.h>

int main() {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    char self[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return 70;
    std::string path(self, static_cast<std::size_t>(n));
    path = path.substr(0, path.rfind('/')) + "/stamp";
    std::FILE* out = std::fopen(path.c_str(), "wx");
    if (!out)
        return errno == EEXIST ? 0 : 73;
    std::fprintf(out, "%lld\n", static_cast<long long>(now.tv_sec) * 1000000000LL + now.tv_nsec);
    return std::fclose(out) == 0 ? 0 : 74;
}
