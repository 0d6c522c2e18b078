#pragma once

// What the benchmark found, and how it is written down: the table of docs/benchmarks.md
// (median, spread, ratio against the baseline, goal) and latency plots as SVG.

#include <cstdint>
#include <string>
#include <vector>

namespace jobssh::bench {

// Quantile q in [0,1] of the samples (nearest rank after sorting a copy).
double quantile(std::vector<double> samples, double q);
double median(const std::vector<double>& samples);
// "p25–p75" of the samples, formatted with `digits` decimals.
std::string spread(const std::vector<double>& samples, int digits);
std::string fixed(double value, int digits);

struct figure {
    std::string name;     // what is measured
    std::string jobssh;   // jobssh's value (median, with unit)
    std::string baseline; // the baseline's value, or "—"
    std::string result;   // the ratio or the added amount, with its spread
    std::string goal;
    std::string verdict;              // "met", "missed", or "not measured: why"
    std::vector<std::string> details; // how it was measured, sample counts, raw medians
};

struct series {
    std::string name;
    std::string colour;
    std::vector<double> samples; // milliseconds
};

// An empirical CDF of each series, x in ms on a log scale, y the fraction.
void write_cdf_svg(const std::string& path, const std::string& title,
                   const std::vector<series>& lines);

// The markdown of the generated part of docs/benchmarks.md.
std::string render_markdown(const std::vector<figure>& figures,
                            const std::vector<std::string>& plots);

} // namespace jobssh::bench
