// Metrics: evchat's figures in the Prometheus text exposition format 0.0.4, and as a table.
// Stateless: the server fills a snapshot per scrape; pure but for read_process_figures().
#pragma once

#include "stats.h"

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

constexpr const char* exposition_content_type = "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType { counter, gauge };

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool valid_metric_name(std::string_view name);
// [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved for Prometheus itself).
bool valid_label_name(std::string_view name);
// Label values escape backslash, double quote and newline; HELP text only backslash and
// newline (the format's two rules).
std::string escape_label_value(std::string_view value);
std::string escape_help(std::string_view help);
// A sample value as the format spells it: integers exactly, others in the shortest text
// that reads back the same, and "NaN", "+Inf", "-Inf".
std::string format_sample_value(double value);

// One exposition, written in order: a family, then its samples, then the next family.
// Names are the caller's constants, checked by assertion.
class Exposition {
public:
    struct Label {
        std::string_view name;
        std::string_view value;
    };

    void family(std::string_view name, MetricType type, std::string_view help);
    void sample(double value) { sample({}, value); }
    void sample(std::initializer_list<Label> labels, double value);
    const std::string& text() const { return text_; }

private:
    std::string text_;
    std::string family_;  // the family being written
};

// What /proc/self, getrusage and getrlimit say about this process; a figure that could
// not be read is negative and left out of the exposition.
struct ProcessFigures {
    double cpu_seconds = -1;
    double resident_bytes = -1;
    double virtual_bytes = -1;
    double open_fds = -1;
    double max_fds = -1;
    double start_time_seconds = -1;  // since the Unix epoch
};

// Fields 3 to 2 + count of a /proc/PID/stat line as numbers (fields[0] is field 3);
// false if the text is not a stat line or is shorter.
bool proc_stat_fields(std::string_view stat, size_t count, std::vector<double>& fields);
// This process's CPU time, user and system, from getrusage: microseconds, where /proc
// counts 10 ms ticks, so a short busy spell shows up at once.
double rusage_cpu_seconds();

// Fills memory and start time from the text of /proc/self/stat, given the clock
// ticks per second, the page size and the boot time (btime of /proc/stat). False if the
// text is not a stat line.
bool parse_proc_stat(std::string_view stat, double ticks_per_second, double page_size, double boot_time,
                     ProcessFigures& out);
ProcessFigures read_process_figures();

// Every figure of one scrape. The server's counters are monotonic for the life of the
// process; the gauges are measured at scrape time.
struct MetricsSnapshot {
    Stats stats;
    uint64_t refused_fd_limit = 0;
    uint64_t lines_said = 0;
    uint64_t deliveries = 0;
    uint64_t clients[static_cast<size_t>(Transport::count)] = {};
    uint64_t room_members = 0;
    uint64_t backlog_bytes = 0;
    uint64_t backlog_largest_bytes = 0;
    uint64_t log_chunks = 0;
    uint64_t log_bytes = 0;
    bool io_uring = false;            // the flush pass writes through a ring
    uint64_t ring_sends = 0;
    uint64_t ring_submissions = 0;
    uint64_t ring_short_sends = 0;
    ProcessFigures process;
};

// The body of GET /metrics.
std::string format_metrics(const MetricsSnapshot& s);

// An exposition as an aligned table for a terminal: one row per sample (NAME{LABELS},
// value), and each family's HELP beside its first row. Lines it does not understand are
// left out.
std::string format_table(std::string_view exposition);
