#include "report.hpp"

#include "process.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace jobssh::bench {

double quantile(std::vector<double> samples, double q) {
    if (samples.empty())
        return std::nan("");
    std::sort(samples.begin(), samples.end());
    auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(samples.size())));
    return samples[std::clamp<std::size_t>(rank, 1, samples.size()) - 1];
}

double median(const std::vector<double>& samples) {
    return quantile(samples, 0.5);
}

std::string fixed(double value, int digits) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", digits, value);
    return text;
}

std::string spread(const std::vector<double>& samples, int digits) {
    return fixed(quantile(samples, 0.25), digits) + "–" + fixed(quantile(samples, 0.75), digits);
}

void write_cdf_svg(const std::string& path, const std::string& title,
                   const std::vector<series>& lines) {
    const double width = 640, height = 360, left = 60, right = 20, top = 40, bottom = 50;
    // Latencies span decades (a quick echo, a core that was busy): x is logarithmic.
    double x_min = 1e9, x_max = 0;
    for (const auto& s : lines) {
        if (s.samples.empty())
            continue;
        x_min = std::min(x_min, *std::min_element(s.samples.begin(), s.samples.end()));
        x_max = std::max(x_max, *std::max_element(s.samples.begin(), s.samples.end()));
    }
    x_min = std::pow(10, std::floor(std::log10(std::max(x_min, 1e-3))));
    double decade = std::pow(10, std::floor(std::log10(std::max(x_max, x_min * 10))));
    for (double step : {1.0, 2.0, 5.0, 10.0})
        if (decade * step >= x_max) {
            x_max = decade * step;
            break;
        }
    auto x_of = [&](double v) {
        double f = std::log10(std::clamp(v, x_min, x_max) / x_min) / std::log10(x_max / x_min);
        return left + f * (width - left - right);
    };
    auto y_of = [&](double f) { return top + (1 - f) * (height - top - bottom); };

    std::ostringstream svg;
    svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
        << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
        << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        << "<text x=\"" << width / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">"
        << title << "</text>\n";
    for (double f : {0.0, 0.25, 0.5, 0.75, 0.9, 0.99}) {
        svg << "<line x1=\"" << left << "\" x2=\"" << width - right << "\" y1=\"" << y_of(f)
            << "\" y2=\"" << y_of(f) << "\" stroke=\"#ddd\"/>\n"
            << "<text x=\"" << left - 6 << "\" y=\"" << y_of(f) + 4 << "\" text-anchor=\"end\">"
            << fixed(f, f == 0.99 ? 2 : (f == 0.25 || f == 0.75 ? 2 : 1)) << "</text>\n";
    }
    for (double tick = x_min; tick <= x_max * 1.001; tick *= 10) {
        for (double step : {1.0, 2.0, 5.0}) {
            double v = tick * step;
            if (v > x_max * 1.001)
                break;
            svg << "<line x1=\"" << x_of(v) << "\" x2=\"" << x_of(v) << "\" y1=\"" << top
                << "\" y2=\"" << height - bottom << "\" stroke=\"" << (step == 1 ? "#ccc" : "#eee")
                << "\"/>\n<text x=\"" << x_of(v) << "\" y=\"" << height - bottom + 16
                << "\" text-anchor=\"middle\">" << fixed(v, v < 0.01 ? 3 : (v < 1 ? 2 : 0))
                << "</text>\n";
        }
    }
    svg << "<text x=\"" << (left + width - right) / 2 << "\" y=\"" << height - 12
        << "\" text-anchor=\"middle\">milliseconds, log scale (y: fraction of samples at or "
           "below)</text>\n";
    std::size_t legend = 0;
    for (const auto& s : lines) {
        auto sorted = s.samples;
        std::sort(sorted.begin(), sorted.end());
        svg << "<polyline fill=\"none\" stroke=\"" << s.colour << "\" stroke-width=\"2\" points=\"";
        double n = static_cast<double>(sorted.size());
        for (std::size_t i = 0; i < sorted.size(); ++i) {
            svg << fixed(x_of(sorted[i]), 1) << "," << fixed(y_of(static_cast<double>(i) / n), 1)
                << " " << fixed(x_of(sorted[i]), 1) << ","
                << fixed(y_of(static_cast<double>(i + 1) / n), 1) << " ";
        }
        svg << "\"/>\n";
        // Legend in the lower right, where a CDF leaves room.
        double ly = height - bottom - 12 - 18.0 * static_cast<double>(lines.size() - 1 - legend++);
        svg << "<line x1=\"" << width - right - 440 << "\" x2=\"" << width - right - 415
            << "\" y1=\"" << ly - 4 << "\" y2=\"" << ly - 4 << "\" stroke=\"" << s.colour
            << "\" stroke-width=\"3\"/>\n<text x=\"" << width - right - 408 << "\" y=\"" << ly
            << "\">" << s.name << " (n=" << sorted.size() << ", p50 "
            << fixed(quantile(sorted, 0.5), 3) << " ms, p99 " << fixed(quantile(sorted, 0.99), 3)
            << " ms)</text>\n";
    }
    svg << "</svg>\n";
    write_file(path, svg.str());
}

std::string render_markdown(const std::vector<figure>& figures,
                            const std::vector<std::string>& plots) {
    std::ostringstream md;
    md << "| figure | jobssh (median) | baseline (median) | result (median; p25–p75 over runs) | "
          "goal | verdict |\n| --- | --- | --- | --- | --- | --- |\n";
    for (const auto& f : figures)
        md << "| " << f.name << " | " << f.jobssh << " | " << f.baseline << " | " << f.result
           << " | " << f.goal << " | " << f.verdict << " |\n";
    md << "\n";
    for (const auto& f : figures) {
        md << "**" << f.name << "** — " << f.verdict << "\n\n";
        for (const auto& d : f.details)
            md << "- " << d << "\n";
        md << "\n";
    }
    for (const auto& p : plots)
        md << "![" << p << "](" << p << ")\n\n";
    return md.str();
}

} // namespace jobssh::bench
