#pragma once

// Each figure of the benchmark table (issue #6), measured against its baseline with the
// two run interleaved (A B A B …) in the same sandbox.

#include "report.hpp"

#include <cstdint>
#include <filesystem>
#include <sandbox.hpp>
#include <string>
#include <vector>

namespace jobssh::bench {

struct bench_context {
    fixtures::sandbox& world;
    std::filesystem::path data;  // scratch space on a real disk (the 1 GiB log lives here)
    std::filesystem::path plots; // where the SVG plots go (docs/)
    bool quick = false;          // fewer repetitions and a smaller log: a check of the driver
    std::int64_t vm_job = 0;     // a finished job whose VM stays up for connect
    std::vector<std::string> plot_files;
    long connect_rss_kib = 0;  // filled by the figures that run jobssh-shell
    long connect_anon_kib = 0; // its private part (RssAnon) at the same moment
    long tail_rss_kib = 0;
    long tail_anon_kib = 0;
    long tail_big_rss_kib = 0;
    std::filesystem::path users_file; // for the sandboxes a figure starts of its own
};

figure keys_vs_cat(bench_context& ctx);
std::vector<figure> keys_with_meta(bench_context& ctx); // keys_meta.cpp
figure shell_work_before_ssh(bench_context& ctx);
std::vector<figure> connect_true_vs_ssh(bench_context& ctx); // warm and cold
std::vector<figure> pty_throughput_and_keystrokes(bench_context& ctx);
std::vector<figure> tail_latency(bench_context& ctx);
std::vector<figure> tail_big_finished_job(bench_context& ctx);
figure peak_rss(bench_context& ctx);
figure many_live_tails(bench_context& ctx);
std::vector<figure> gateway_figures(bench_context& ctx); // gateway.cpp

} // namespace jobssh::bench
