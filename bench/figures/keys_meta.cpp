// The figure of jobssh-keys with `authenticate = keys`: the program and its call to meta,
// against `cat` printing the same line (the floor of starting a program) and against a
// Python re-creation of builds.sr.ht's 2020 buildsrht-keys, which made the same call. sshd
// runs it for every key a client offers, twice for the one it takes.

#include "figure_tools.hpp"
#include "figures.hpp"
#include "process.hpp"

#include <algorithm>
#include <fcntl.h>
#include <stdexcept>
#include <unistd.h>

namespace fs = std::filesystem;

namespace jobssh::bench {

namespace {

// The sandbox's config with `authenticate = keys`, whatever the sandbox itself uses.
fs::path keys_mode_config(const bench_context& ctx) {
    auto text = read_file(ctx.world.config_file().string());
    auto at = text.find("\nauthenticate = ");
    if (at == std::string::npos)
        throw std::runtime_error("the sandbox's config names no authenticate mode");
    text.replace(at, text.find('\n', at + 1) - at, "\nauthenticate = keys");
    auto file = ctx.data / "keys-mode.ini";
    write_file(file.string(), text);
    return file;
}

// Debian's python3 has python3-requests (scripts/setup); another one may not.
std::string python() {
    return ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

std::string printed_by(const spawn_options& options) {
    std::string line;
    auto run = run_counting(options, &line);
    if (run.exit.status != 0)
        throw std::runtime_error(options.argv[0] + " " + options.argv[1] + " exited " +
                                 std::to_string(run.exit.status));
    return line;
}

// Wall time in ms into `wall`, the child's CPU time (user+system) in ms into `cpu`.
void time_one_call(const spawn_options& options, std::vector<double>& wall,
                   std::vector<double>& cpu) {
    auto run = run_timed(options);
    if (run.exit.status != 0)
        throw std::runtime_error(options.argv[0] + " exited " + std::to_string(run.exit.status));
    wall.push_back(static_cast<double>(run.wall_ns) / 1e6);
    cpu.push_back(run.exit.cpu_seconds * 1000);
}

} // namespace

std::vector<figure> keys_with_meta(bench_context& ctx) {
    const auto config = keys_mode_config(ctx);
    const auto key = ctx.world.public_key_b64("alice");
    const auto login = ctx.world.login_user();
    spawn_options keys{{JOBSSH_KEYS_PROGRAM, "--config", config.string(), login, "/nonexistent",
                        "ssh-ed25519", key}};
    spawn_options python_keys{{python(), JOBSSH_BENCH_SOURCE_DIR "/buildsrht_keys_2020.py",
                               config.string(), login, "/nonexistent", "ssh-ed25519", key}};

    // Both must have asked meta and named the owner, or the figure measures something else.
    auto line = printed_by(keys);
    if (line.find("--owner alice '") == std::string::npos)
        throw std::runtime_error("jobssh-keys named no owner: " + line);
    auto python_line = printed_by(python_keys);
    if (python_line.find("--owner alice '") == std::string::npos)
        throw std::runtime_error("the Python re-creation named no owner: " + python_line);
    auto authorized_keys = ctx.data / "authorized_keys.meta";
    write_file(authorized_keys.string(), line);
    spawn_options cat{{"cat", authorized_keys.string()}};
    const auto requests_before = ctx.world.meta_requests().size();

    // Interleaved in turn, each first in every third round, so none always runs warmest.
    int rounds = ctx.quick ? 30 : 300;
    std::vector<double> a, b, c, cpu_a, cpu_b, cpu_c;
    for (int i = 0; i < rounds; ++i) {
        for (int k = 0; k < 3; ++k) {
            switch ((i + k) % 3) {
            case 0:
                time_one_call(keys, a, cpu_a);
                break;
            case 1:
                time_one_call(cat, b, cpu_b);
                break;
            default:
                time_one_call(python_keys, c, cpu_c);
                break;
            }
        }
    }
    const auto meta_calls = ctx.world.meta_requests().size() - requests_before;
    std::vector<double> over_cat, vs_python;
    for (std::size_t i = 0; i < a.size(); ++i) {
        over_cat.push_back(a[i] - b[i]);
        vs_python.push_back(c[i] / a[i]);
    }
    const double keys_ms = median(a), python_ms = median(c);
    const double faster = python_ms / keys_ms;
    const std::string how = std::to_string(rounds) +
                            " interleaved rounds of the three, fork+exec to wait4, output to "
                            "/dev/null; meta is the fixtures' fake meta on loopback (" +
                            std::to_string(meta_calls) + " requests seen)";

    figure against_cat{"`jobssh-keys` with its meta call (`authenticate = keys`), per call",
                       ms(keys_ms),
                       "`cat`: " + ms(median(b)),
                       "+" + ms(median(over_cat)) + " over `cat` (" + spread(over_cat, 2) + ")",
                       "median ≤ 2.5 ms",
                       keys_ms <= 2.5 ? "met" : "missed"};
    // The wall time also holds waits for a core; CPU time is what the machine's load moves
    // least.
    against_cat.details = {
        how, "p90: jobssh-keys " + ms(quantile(a, 0.9)) + ", cat " + ms(quantile(b, 0.9)),
        "CPU time per call (user+system of the child, medians): jobssh-keys " + ms(median(cpu_a)) +
            ", cat " + ms(median(cpu_b)) + ", Python " + ms(median(cpu_c))};
    figure against_python{"`jobssh-keys` with its meta call vs builds.sr.ht's 2020 keys "
                          "command (Python re-creation)",
                          ms(keys_ms),
                          "Python: " + ms(python_ms),
                          fixed(faster, 1) + "× faster (" + spread(vs_python, 1) + ")",
                          "≥ 20× faster",
                          faster >= 20 ? "met" : "missed"};
    against_python.details = {
        how,
        "the re-creation: bench/buildsrht_keys_2020.py under " + python() +
            " (configparser and requests; the real one imported srht.config too)",
        "p90: Python " + ms(quantile(c, 0.9))};
    return {against_cat, against_python};
}

} // namespace jobssh::bench
