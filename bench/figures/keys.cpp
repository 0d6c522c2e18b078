// jobssh-keys, as sshd starts it on every login attempt, against `cat` printing the same line.

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

figure keys_vs_cat(bench_context& ctx) {
    auto pub = read_file(ctx.world.private_key("alice").string() + ".pub");
    auto type = pub.substr(0, pub.find(' '));
    auto err = ctx.data / "keys.err";
    spawn_options keys{{JOBSSH_KEYS_PROGRAM, "--config", ctx.world.config_file().string(),
                        ctx.world.login_user(), "/nonexistent", type,
                        ctx.world.public_key_b64("alice")}};
    keys.err = open_for_stderr(err);
    std::string line;
    auto first = run_counting(keys, &line);
    require_exit(first.exit, 0, "jobssh-keys", err);
    if (line.find("command=") == std::string::npos)
        throw std::runtime_error("jobssh-keys printed no forced command: " + line);
    auto authorized_keys = ctx.data / "authorized_keys";
    write_file(authorized_keys.string(), line);
    spawn_options cat{{"cat", authorized_keys.string()}};

    int pairs = ctx.quick ? 40 : 400;
    std::vector<double> a, b, cpu_a, cpu_b;
    interleaved(pairs, {timed_way(keys, "jobssh-keys", err, a, &cpu_a),
                        timed_way(cat, "cat", err, b, &cpu_b)});
    ::close(keys.err);
    auto f = ratio_figure("`jobssh-keys` wall time per call", a, b, "`cat`", ms, 2, "≤ 1.5×",
                          [](double ratio) { return ratio <= 1.5; });
    f.details = {std::to_string(pairs) + " interleaved pairs, fork+exec to wait4, output to "
                                         "/dev/null; `cat` prints the same line from a file",
                 "p90: jobssh-keys " + ms(quantile(a, 0.9)) + ", cat " + ms(quantile(b, 0.9)),
                 "CPU time per call (getrusage of the child, user+system; the wall time above "
                 "also holds the wait for a core): jobssh-keys " +
                     ms(mean(cpu_a)) + ", cat " + ms(mean(cpu_b)) + " (means, " +
                     fixed(mean(cpu_a) / mean(cpu_b), 2) + "×)"};
    return f;
}

} // namespace jobssh::bench
