// jobssh-shell: sshd's forced command for the builds user. All logic is in shell.cpp.
#include <jobssh/common/posix.hpp>
#include <jobssh/connect/vm_life.hpp>
#include <jobssh/shell/shell.hpp>
#include <malloc.h>

int main(int argc, char** argv) {
    // tail builds each batch of log lines (up to about 300 KiB) in a fresh buffer. glibc's
    // defaults hand a buffer that size back to the kernel when it is freed and fault it in
    // again for the next batch, a page fault per 4 KiB: keeping up to 1 MiB made tail of a
    // big finished job three times faster (docs/benchmarks.md).
    ::mallopt(M_MMAP_THRESHOLD, 1 << 20);
    ::mallopt(M_TRIM_THRESHOLD, 1 << 20);
    // For the session and its watcher alike: a user who hangs up must not kill us mid-write;
    // EPIPE is handled where we write.
    jobssh::ignore_sigpipe();
    if (jobssh::is_session_watcher(argc, argv))
        return jobssh::run_session_watcher(argc, argv);
    return jobssh::run_shell(argc, argv);
}
