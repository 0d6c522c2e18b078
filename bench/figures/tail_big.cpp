// `tail` of a finished job with a gigabyte of logs, against `cat` and the seed's pipeline.

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

std::vector<figure> tail_big_finished_job(bench_context& ctx) {
    const std::int64_t id = 901;
    const std::vector<std::string> tasks{"setup", "build", "test", "package"};
    std::uint64_t per_task = ctx.quick ? (16ull << 20) : (256ull << 20);
    auto root = ctx.data / ("biglog-" + std::to_string(per_task * tasks.size()));
    auto job_dir = root / std::to_string(id);
    if (!fs::exists(root / "complete")) {
        fs::remove_all(root);
        fs::create_directories(job_dir);
        append_to(job_dir / "log", "[#901] Booting image debian/bookworm\n[#901] Sending tasks\n");
        for (const auto& t : tasks) {
            fs::create_directories(job_dir / t);
            std::ofstream out(job_dir / t / "log", std::ios::binary);
            std::string chunk;
            std::uint64_t written = 0;
            for (std::uint64_t n = 0; written < per_task; ++n) {
                char line[160];
                int len = std::snprintf(line, sizeof line,
                                        "%s: cc -O2 -Wall -c src/module%06llu.c -o "
                                        "obj/module%06llu.o # %llu\n",
                                        t.c_str(), static_cast<unsigned long long>(n),
                                        static_cast<unsigned long long>(n),
                                        static_cast<unsigned long long>(n * 7919 % 100003));
                chunk.append(line, static_cast<std::size_t>(len));
                written += static_cast<std::uint64_t>(len);
                if (chunk.size() >= (1u << 20)) {
                    out << chunk;
                    chunk.clear();
                }
            }
            out << chunk;
            if (!out.flush())
                throw std::runtime_error("cannot write " + (job_dir / t / "log").string());
        }
        write_file((root / "complete").string(), "");
    }
    ctx.world.add_job(manual_job(id, tasks, "success"));
    finish_job(ctx, id, static_cast<int>(tasks.size()));
    auto link = ctx.world.buildlogs() / std::to_string(id);
    fs::remove_all(link);
    fs::create_directory_symlink(job_dir, link);

    std::vector<std::string> cat{"cat", (link / "log").string()};
    std::string seed = "tail -n +1 '" + (link / "log").string() + "'";
    std::uint64_t log_bytes = fs::file_size(link / "log");
    for (const auto& t : tasks) {
        cat.push_back((link / t / "log").string());
        seed += "; tail -n +1 '" + (link / t / "log").string() + "' | awk '{print \"[" + t +
                "] \" $0}'";
        log_bytes += fs::file_size(link / t / "log");
    }
    auto err = ctx.data / "tail-big.err";
    spawn_options jobssh{shell_argv(ctx), {command_env("tail " + std::to_string(id))}};
    jobssh.err = open_for_stderr(err);
    spawn_options floor{cat};
    floor.err = jobssh.err;
    spawn_options awk{{"sh", "-c", seed}};
    awk.err = jobssh.err;
    // The page cache holds the logs from here on, for all alike; the seed's output tells
    // how many bytes every way of reading the job delivers.
    auto warm = run_counting(awk);
    require_exit(warm.exit, 0, "tail | awk", err);
    // The floor of reading and writing as many bytes, with no line to find: dd reads
    // /dev/zero and writes 256 KiB at a time, as jobssh's batches, into a pipe grown to
    // 1 MiB, as jobssh grows its own.
    spawn_options zeros{{"dd", "if=/dev/zero", "bs=256K", "iflag=count_bytes",
                         "count=" + std::to_string(warm.bytes), "status=none"}};
    constexpr int grown_pipe = 1 << 20;
    zeros.err = jobssh.err;

    int rounds = ctx.quick ? 1 : 5;
    std::vector<double> a, b, c, d;
    std::uint64_t jobssh_bytes = 0, awk_bytes = 0;
    long rss = 0;
    interleaved(rounds, {[&] {
                             auto run = run_counting(jobssh);
                             require_exit(run.exit, 0, "jobssh-shell tail (1 GiB)", err);
                             a.push_back(log_bytes / (run.wall_ns / 1e9));
                             jobssh_bytes = run.bytes;
                             rss = std::max(rss, run.exit.max_rss_kib);
                         },
                         [&] {
                             auto run = run_counting(floor, nullptr, grown_pipe);
                             require_exit(run.exit, 0, "cat", err);
                             b.push_back(log_bytes / (run.wall_ns / 1e9));
                         },
                         [&] {
                             auto run = run_counting(awk, nullptr, grown_pipe);
                             require_exit(run.exit, 0, "tail | awk", err);
                             c.push_back(log_bytes / (run.wall_ns / 1e9));
                             awk_bytes = run.bytes;
                         },
                         [&] {
                             auto run = run_counting(zeros, nullptr, grown_pipe);
                             require_exit(run.exit, 0, "dd", err);
                             d.push_back(log_bytes / (run.wall_ns / 1e9));
                         }});
    ::close(jobssh.err);
    if (jobssh_bytes != awk_bytes)
        throw std::runtime_error("jobssh printed " + std::to_string(jobssh_bytes) +
                                 " bytes, the seed's pipeline " + std::to_string(awk_bytes));
    ctx.tail_big_rss_kib = rss;
    std::string size = fixed(log_bytes / 1073741824.0, 2) + " GiB";
    auto f1 =
        ratio_figure("`tail` of a finished job, " + size + " of logs, vs `cat`", a, b, "`cat`",
                     mib_s, 2, "≥ 0.5× cat", [](double ratio) { return ratio >= 0.5; });
    f1.details = {std::to_string(rounds) +
                      " interleaved rounds (jobssh, cat, seed, dd; each round "
                      "starting with the next) after one warming run of the seed; the logs are "
                      "on the disk under build-bench/ (job directory symlinked into the "
                      "sandbox's buildlogs), read from the page cache; every program writes "
                      "into a pipe the driver drains, grown to 1 MiB for cat, the seed and dd "
                      "as jobssh grows its own. Rate = log bytes / wall.",
                  "jobssh printed " + std::to_string(jobssh_bytes) +
                      " bytes, identical in "
                      "count to the seed's pipeline (prefixes included)",
                  "in the same rounds, the floor of reading and writing as many bytes with no "
                  "line to find: `dd if=/dev/zero bs=256K` (jobssh's batch size) into a pipe "
                  "grown to 1 MiB (as jobssh grows its own): " +
                      mib_s(median(d)) + ", " + fixed(median(d) / median(b), 2) +
                      "× cat; jobssh reaches " + fixed(100 * median(a) / median(d), 0) +
                      " % of it"};
    auto f2 =
        ratio_figure("`tail` of the same job vs the seed's `tail -n +1 | awk`", a, c,
                     "`tail | awk`", mib_s, 2, "≥ 5× awk", [](double ratio) { return ratio >= 5; });
    f2.details = {"the seed's pipeline, per task: `tail -n +1 FILE | awk '{print \"[task] \" "
                  "$0}'` (awk is Debian's default, mawk), the job log plain first; tail and awk "
                  "run side by side, one on each core",
                  "in the same rounds `cat` ran at " + fixed(median(b) / median(c), 2) +
                      "× the seed and the `dd` floor at " + fixed(median(d) / median(c), 2) +
                      "× the seed; per round, jobssh against the seed: " + [&] {
                          std::string each;
                          for (double r : ratios(a, c))
                              each += (each.empty() ? "" : ", ") + fixed(r, 2) + "×";
                          return each;
                      }()};
    return {f1, f2};
}

} // namespace jobssh::bench
