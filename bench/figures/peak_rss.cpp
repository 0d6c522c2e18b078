// The peak RSS of one jobssh-shell, from what the other figures sampled.

#include "figure_tools.hpp"

#include <algorithm>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <random>
#include <stdexcept>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;

namespace jobssh::bench {

figure peak_rss(bench_context& ctx) {
    long tail = std::max(ctx.tail_rss_kib, ctx.tail_big_rss_kib);
    long worst = std::max(ctx.connect_rss_kib, tail);
    auto mib = [](long kib) { return fixed(kib / 1024.0, 2) + " MiB"; };
    spawn_options usage{shell_argv(ctx), {command_env("help")}};
    auto floor = run_timed(usage);
    auto cat = run_timed({{"cat", "/dev/null"}});
    figure f{"peak RSS of one jobssh-shell",
             "connect " + mib(ctx.connect_rss_kib) + ", tail " + mib(tail),
             "—",
             "worst " + mib(worst),
             "≤ 4 MiB",
             worst > 0 && worst <= 4096 ? "met" : "missed"};
    f.details = {"connect: VmHWM of the interactive `connect N` session after the throughput and "
                 "keystroke runs (jobssh-shell alone; its ssh child is not counted)",
                 "tail: the larger of the live tail's VmHWM/ru_maxrss (" + mib(ctx.tail_rss_kib) +
                     ") and the 1 GiB tail's ru_maxrss (" + mib(ctx.tail_big_rss_kib) + ")",
                 "of which private (RssAnon, sampled with VmHWM): connect " +
                     mib(ctx.connect_anon_kib) + ", live tail " + mib(ctx.tail_anon_kib) +
                     "; the rest is file-backed pages of the binary, libc and ld.so "
                     "(the kernel maps a file's pages 64 KiB around each one touched), shared "
                     "with every other process that maps them",
                 "floor: jobssh-shell printing its usage (`help`, no work) peaks at " +
                     mib(floor.exit.max_rss_kib) + "; `cat /dev/null` at " +
                     mib(cat.exit.max_rss_kib)};
    return f;
}

} // namespace jobssh::bench
