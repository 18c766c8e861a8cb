// Report: grouping, medians, ratios, the Markdown table and the gnuplot files.
#include "bench/report.h"

#include "bench/flags.h"
#include "bench/json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace bench {

namespace {

// How a figure compares: higher or lower is better, or it is shown without a ratio.
enum class Better { higher, lower, none };

struct Metric {
    const char* scenario;
    const char* key;
    const char* label;
    Better better;
};

// The table's rows, in order, for each case of a scenario.
const Metric metrics[] = {
    {"fanout", "deliveries_per_server_cpu_s", "deliveries per server CPU-second", Better::higher},
    {"fanout", "deliveries_per_s", "deliveries/s", Better::higher},
    {"fanout", "lines_in_per_s", "lines in/s", Better::higher},
    {"fanout", "server_cpu_s", "server CPU s", Better::lower},
    {"fanout", "gen_cpu_pct", "generator CPU %", Better::none},
    {"latency", "p50_us", "p50 µs", Better::lower},
    {"latency", "p90_us", "p90 µs", Better::lower},
    {"latency", "p99_us", "p99 µs", Better::lower},
    {"latency", "p999_us", "p99.9 µs", Better::lower},
    {"latency", "max_us", "max µs", Better::lower},
    {"latency", "lost", "lines not delivered", Better::lower},
    {"latency", "unsent", "lines not sent (pushed back)", Better::lower},
    {"latency", "deliveries_per_s", "deliveries/s achieved", Better::higher},
    {"latency", "server_cpu_s", "server CPU s", Better::lower},
    {"latency", "lag_p99_us", "generator send lag p99 µs", Better::none},
    {"latency", "gen_cpu_pct", "generator CPU %", Better::none},
    {"conns", "rss_per_conn_bytes", "server RSS per connection, bytes", Better::lower},
    {"conns", "members_s", "time until all are members, s", Better::lower},
    {"conns", "connected_s", "time until all greeted, s", Better::lower},
    {"conns", "broadcast_ms", "one line to all, ms", Better::lower},
    {"conns", "server_cpu_s", "server CPU s (joining)", Better::lower},
    {"slow", "healthy_pct", "healthy clients got, %", Better::higher},
    {"slow", "elapsed_s", "time, s", Better::lower},
    {"slow", "deliveries_per_s", "deliveries/s", Better::higher},
    {"slow", "slow_fate", "slow client", Better::none},
    {"slow", "slow_left_s", "slow client put out after, s", Better::none},
    {"slow", "slow_lines", "lines the slow client got", Better::none},
    {"slow", "rss_before_kib", "server RSS before, KiB", Better::none},
    {"slow", "rss_peak_kib", "server RSS peak, KiB", Better::none},
    {"slow", "rss_after_kib", "server RSS after, KiB", Better::none},
    {"churn", "errors", "errors", Better::lower},
    {"churn", "observer_missing", "events the observer missed", Better::lower},
    {"churn", "achieved_rate", "connections/s achieved", Better::higher},
    {"churn", "rss_before_kib", "server RSS before, KiB", Better::none},
    {"churn", "rss_peak_kib", "server RSS peak, KiB", Better::none},
    {"churn", "rss_after_kib", "server RSS after, KiB", Better::none},
    {"churn", "server_cpu_s", "server CPU s", Better::lower},
};

struct Run {
    JsonObject fields;
    std::string text(const char* key) const
    {
        auto it = fields.find(key);
        return it == fields.end() ? "" : it->second.text;
    }
    bool number(const char* key, double& v) const
    {
        auto it = fields.find(key);
        if (it == fields.end() || it->second.kind != JsonValue::Kind::number)
            return false;
        v = it->second.number;
        return true;
    }
};

template <class T>
void add_unique(std::vector<T>& v, const T& x)
{
    if (std::find(v.begin(), v.end(), x) == v.end())
        v.push_back(x);
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string format_number(double v)
{
    char buf[32];
    double a = std::fabs(v);
    if (a >= 1e9)
        snprintf(buf, sizeof buf, "%.3gG", v / 1e9);
    else if (a >= 1e6)
        snprintf(buf, sizeof buf, "%.3gM", v / 1e6);
    else if (a >= 1e4)
        snprintf(buf, sizeof buf, "%.3gk", v / 1e3);
    else if (a >= 100 || v == std::floor(v))
        snprintf(buf, sizeof buf, "%.0f", v);
    else
        snprintf(buf, sizeof buf, "%.3g", v);
    return buf;
}

class Report {
public:
    explicit Report(std::vector<Run> runs) : runs_(std::move(runs))
    {
        for (const Run& r : runs_) {
            add_unique(cases_, r.text("case"));
            add_unique(servers_, r.text("server"));
            scenario_of_[r.text("case")] = r.text("scenario");
        }
    }

    std::string markdown(const std::string& machine) const
    {
        std::string md = "# evchat-bench results\n\n";
        if (!machine.empty())
            md += "Machine: " + machine + "\n\n";
        md += "Each figure is the median of the runs of one server; the servers ran in turn "
              "(A B C A B C …) in one session. The ratio columns are the headline: how many "
              "times better " + servers_[0] + " is than the other server on that row (above 1: " +
              servers_[0] + " is better; it divides or multiplies as lower or higher is better). "
              "Absolute numbers hold only for the machine above.\n\n";
        md += "| case | metric |";
        for (const std::string& s : servers_)
            md += " " + s + " |";
        for (size_t i = 1; i < servers_.size(); i++)
            md += " " + servers_[0] + " vs " + servers_[i] + " |";
        md += "\n|---|---|";
        for (size_t i = 0; i < 2 * servers_.size() - 1; i++)
            md += "---:|";
        md += "\n";
        for (const std::string& c : cases_) {
            md += "| " + c + " | checks passed |";
            for (const std::string& s : servers_)
                md += " " + passed(c, s) + " |";
            for (size_t i = 1; i < servers_.size(); i++)
                md += " |";
            md += "\n";
            for (const Metric& m : metrics)
                if (scenario_of_.at(c) == m.scenario)
                    md += row(c, m);
        }
        std::string failed;
        for (const Run& r : runs_) {
            if (r.text("ok") == "true")
                continue;
            double rep = 0;
            r.number("rep", rep);
            failed += "- " + r.text("server") + ", " + r.text("case") + ", run " + format_number(rep) +
                      ": " + r.text("failures");
            if (!r.text("first_error").empty())
                failed += " — " + r.text("first_error");
            failed += "\n";
        }
        if (!failed.empty())
            md += "\nRuns that failed a check:\n\n" + failed;
        return md;
    }

    bool baseline_failed() const
    {
        for (const Run& r : runs_)
            if (r.text("server") == servers_[0] && r.text("ok") != "true")
                return true;
        return false;
    }

    // One data file per server: offered rate, then p50 p90 p99 p99.9 max (medians).
    void write_plot(const std::string& dir, const std::string& machine) const
    {
        std::string plot;
        int color = 1;
        for (const std::string& s : servers_) {
            std::vector<std::vector<double>> rows;
            for (const std::string& c : cases_) {
                if (scenario_of_.at(c) != "latency")
                    continue;
                std::vector<double> row;
                for (const char* key : {"offered_deliveries_per_s", "p50_us", "p90_us", "p99_us", "p999_us", "max_us"}) {
                    double v;
                    if (!median_of(c, s, key, v))
                        break;
                    row.push_back(v);
                }
                if (row.size() == 6)
                    rows.push_back(row);
            }
            if (rows.empty())
                continue;
            std::sort(rows.begin(), rows.end());
            std::string file = "latency-" + s + ".dat";
            std::ofstream data(dir + "/" + file);
            data << "# offered_deliveries_per_s p50_us p90_us p99_us p999_us max_us (medians)\n";
            for (const auto& row : rows) {
                for (double v : row)
                    data << v << ' ';
                data << '\n';
            }
            char lines[512];
            snprintf(lines, sizeof lines,
                     "%s\"%s\" using 1:4 with linespoints lw 2 lc %d title \"%s p99\", \\\n"
                     "  \"%s\" using 1:2 with linespoints lw 1 dt 2 lc %d title \"%s p50\", \\\n"
                     "  \"%s\" using 1:5 with linespoints lw 1 dt 3 lc %d title \"%s p99.9\"",
                     plot.empty() ? "plot " : ", \\\n  ", file.c_str(), color, s.c_str(), file.c_str(),
                     color, s.c_str(), file.c_str(), color, s.c_str());
            plot += lines;
            color++;
        }
        if (plot.empty())
            return;
        std::string title = machine;
        std::replace(title.begin(), title.end(), '"', '\'');
        std::ofstream gp(dir + "/latency.gp");
        gp << "# gnuplot latency.gp (in this directory) writes latency.svg\n"
              "set terminal svg size 960,600 dynamic font \"sans,12\" background rgb \"white\"\n"
              "set output \"latency.svg\"\n"
              "set title \"One-way latency against offered rate (medians)\\n{/*0.8 " << title << "}\"\n"
              "set logscale xy\n"
              "set xlabel \"offered deliveries/s (rate × clients)\"\n"
              "set ylabel \"latency, µs\"\n"
              "set grid\n"
              "set key outside right top\n"
           << plot << "\n";
    }

private:
    bool median_of(const std::string& c, const std::string& s, const char* key, double& out) const
    {
        std::vector<double> v;
        for (const Run& r : runs_) {
            double x;
            if (r.text("case") == c && r.text("server") == s && r.number(key, x) && x >= 0)
                v.push_back(x);
        }
        if (v.empty())
            return false;
        out = median(v);
        return true;
    }

    // The most frequent text, for figures that are words.
    std::string mode_of(const std::string& c, const std::string& s, const char* key) const
    {
        std::map<std::string, int> count;
        for (const Run& r : runs_)
            if (r.text("case") == c && r.text("server") == s && !r.text(key).empty())
                count[r.text(key)]++;
        std::string best;
        int n = 0;
        for (const auto& [text, k] : count)
            if (k > n)
                best = text, n = k;
        return best;
    }

    std::string passed(const std::string& c, const std::string& s) const
    {
        int ok = 0, all = 0;
        for (const Run& r : runs_) {
            if (r.text("case") != c || r.text("server") != s)
                continue;
            all++;
            ok += r.text("ok") == "true";
        }
        return all ? std::to_string(ok) + "/" + std::to_string(all) : "";
    }

    std::string row(const std::string& c, const Metric& m) const
    {
        std::string line = "| | " + std::string(m.label) + " |";
        std::vector<double> value(servers_.size(), NAN);
        bool any = false;
        for (size_t i = 0; i < servers_.size(); i++) {
            std::string cell;
            double v;
            if (median_of(c, servers_[i], m.key, v)) {
                value[i] = v;
                cell = format_number(v);
            } else {
                cell = mode_of(c, servers_[i], m.key);
            }
            any = any || !cell.empty();
            line += " " + cell + " |";
        }
        for (size_t i = 1; i < servers_.size(); i++) {
            std::string cell;
            double a = value[0], b = value[i];
            double ratio = m.better == Better::higher ? a / b : b / a;
            if (m.better != Better::none && std::isfinite(ratio) && ratio > 0)
                cell = "×" + format_number(ratio);
            line += " " + cell + " |";
        }
        return any ? line + "\n" : "";
    }

    std::vector<Run> runs_;
    std::vector<std::string> cases_;
    std::vector<std::string> servers_;
    std::map<std::string, std::string> scenario_of_;
};

}  // namespace

int run_report(int argc, char** argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: evchat-bench report RESULTS.jsonl [--out DIR] [--machine TEXT]\n");
        return 2;
    }
    Flags flags;
    std::string err;
    if (!flags.parse(argc, argv, 3, err)) {
        fprintf(stderr, "evchat-bench report: %s\n", err.c_str());
        return 2;
    }
    std::string out_dir = flags.text("out", "");
    std::string machine = flags.text("machine", "");
    if (!(err = flags.error()).empty()) {
        fprintf(stderr, "evchat-bench report: %s\n", err.c_str());
        return 2;
    }
    std::ifstream in(argv[2]);
    if (!in) {
        fprintf(stderr, "evchat-bench report: cannot read %s\n", argv[2]);
        return 2;
    }
    std::vector<Run> runs;
    std::string line;
    for (int n = 1; std::getline(in, line); n++) {
        if (line.empty())
            continue;
        Run r;
        if (!parse_json_object(line, r.fields, err)) {
            fprintf(stderr, "evchat-bench report: %s:%d: %s\n", argv[2], n, err.c_str());
            return 2;
        }
        if (!r.text("case").empty() && !r.text("server").empty())
            runs.push_back(std::move(r));
    }
    if (runs.empty()) {
        fprintf(stderr, "evchat-bench report: no results in %s\n", argv[2]);
        return 2;
    }
    Report report(std::move(runs));
    std::string md = report.markdown(machine);
    fputs(md.c_str(), stdout);
    if (!out_dir.empty()) {
        std::ofstream(out_dir + "/table.md") << md;
        report.write_plot(out_dir, machine);
    }
    return report.baseline_failed() ? 1 : 0;
}

}  // namespace bench
