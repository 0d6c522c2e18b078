#pragma once

// For the tests of what happens when a user has no inotify instance left: a process of that
// user that holds every instance the kernel allows it.

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <fstream>
#include <grp.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

namespace jobssh::testing {

// The inotify instances one user may have (fs.inotify.max_user_instances).
inline int max_user_instances() {
    std::ifstream in("/proc/sys/fs/inotify/max_user_instances");
    int limit = -1;
    in >> limit;
    return limit;
}

// A process of `uid` that takes inotify instances until the kernel refuses one, and holds
// them until this goes. Needs root.
class inotify_instance_holder {
public:
    explicit inotify_instance_holder(uid_t uid) {
        int ready[2];
        BOOST_REQUIRE(::pipe(ready) == 0);
        pid_ = ::fork();
        BOOST_REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            rlimit many{1 << 16, 1 << 16};
            ::setrlimit(RLIMIT_NOFILE, &many);
            ::setgroups(0, nullptr);
            if (::setgid(uid) != 0 || ::setuid(uid) != 0)
                ::_exit(120);
            int made[2] = {0, 0}; // instances, then the error that stopped it
            for (; made[0] < (1 << 16) - 16; ++made[0])
                if (::inotify_init1(IN_CLOEXEC) < 0) {
                    made[1] = errno;
                    break;
                }
            (void)!::write(ready[1], made, sizeof made);
            ::pause();
            ::_exit(0);
        }
        ::close(ready[1]);
        int made[2] = {0, 0};
        BOOST_REQUIRE(::read(ready[0], made, sizeof made) == sizeof made);
        ::close(ready[0]);
        instances_ = made[0];
        error_ = made[1];
    }
    ~inotify_instance_holder() {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    inotify_instance_holder(const inotify_instance_holder&) = delete;
    inotify_instance_holder& operator=(const inotify_instance_holder&) = delete;

    // How many it got, and the error that refused the next one (0 when none did).
    int instances() const { return instances_; }
    int error() const { return error_; }

private:
    pid_t pid_ = -1;
    int instances_ = 0;
    int error_ = 0;
};

} // namespace jobssh::testing
