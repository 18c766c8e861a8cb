// Metrics: the exposition format's escaping, names, values and families; evchat's
// families; /proc/self/stat parsing; the --stats table.
#include "metrics.h"

#include <doctest/doctest.h>

#include <cmath>
#include <set>
#include <sstream>
#include <vector>

namespace {
std::vector<std::string> lines_of(const std::string& text)
{
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
        out.push_back(l);
    return out;
}
}  // namespace

TEST_CASE("label values escape backslash, double quote and newline, nothing else")
{
    CHECK(escape_label_value("plain") == "plain");
    CHECK(escape_label_value("a\\b") == "a\\\\b");
    CHECK(escape_label_value("say \"hi\"") == "say \\\"hi\\\"");
    CHECK(escape_label_value("two\nlines") == "two\\nlines");
    CHECK(escape_label_value("\\\"\n") == "\\\\\\\"\\n");
    CHECK(escape_label_value("tab\tand\r{},=") == "tab\tand\r{},=");
    CHECK(escape_label_value("caf\xc3\xa9") == "caf\xc3\xa9");  // UTF-8 passes through
}

TEST_CASE("HELP text escapes backslash and newline but not double quotes")
{
    CHECK(escape_help("C:\\path") == "C:\\\\path");
    CHECK(escape_help("one\ntwo") == "one\\ntwo");
    CHECK(escape_help("slow_policy = \"drop\"") == "slow_policy = \"drop\"");
}

TEST_CASE("metric and label names")
{
    CHECK(valid_metric_name("evchat_clients"));
    CHECK(valid_metric_name("a:b_c1"));
    CHECK(valid_metric_name("_x"));
    CHECK(valid_metric_name(":x"));
    CHECK_FALSE(valid_metric_name(""));
    CHECK_FALSE(valid_metric_name("1abc"));
    CHECK_FALSE(valid_metric_name("evchat-clients"));
    CHECK_FALSE(valid_metric_name("evchat clients"));
    CHECK(valid_label_name("reason"));
    CHECK(valid_label_name("_r2"));
    CHECK_FALSE(valid_label_name("a:b"));  // colons are for metric names only
    CHECK_FALSE(valid_label_name("__name__"));  // reserved
    CHECK_FALSE(valid_label_name("9x"));
    CHECK_FALSE(valid_label_name(""));
}

TEST_CASE("sample values: integers exactly, floats shortest, special values spelled out")
{
    CHECK(format_sample_value(0) == "0");
    CHECK(format_sample_value(42) == "42");
    CHECK(format_sample_value(-3) == "-3");
    CHECK(format_sample_value(65536) == "65536");
    CHECK(format_sample_value(9007199254740991.0) == "9007199254740991");
    CHECK(format_sample_value(1.5) == "1.5");
    CHECK(format_sample_value(0.1) == "0.1");
    CHECK(format_sample_value(0.01) == "0.01");
    CHECK(format_sample_value(1796148882.23) == "1796148882.23");
    CHECK(format_sample_value(1e300) == "1e+300");
    CHECK(format_sample_value(0.1 + 0.2) == "0.30000000000000004");
    CHECK(std::stod(format_sample_value(1.0 / 3)) == 1.0 / 3);
    CHECK(format_sample_value(NAN) == "NaN");
    CHECK(format_sample_value(INFINITY) == "+Inf");
    CHECK(format_sample_value(-INFINITY) == "-Inf");
}

TEST_CASE("an exposition: HELP, TYPE, then samples, labels quoted and escaped")
{
    Exposition e;
    e.family("x_total", MetricType::counter, "Things\\done.\nTwice.");
    e.sample(3.0);
    e.family("y", MetricType::gauge, "A gauge.");
    e.sample({{"reason", "a\"b"}}, 1.0);
    e.sample({{"a", "1"}, {"b", "x\ny\\"}}, 0.5);
    CHECK(e.text() ==
          "# HELP x_total Things\\\\done.\\nTwice.\n"
          "# TYPE x_total counter\n"
          "x_total 3\n"
          "# HELP y A gauge.\n"
          "# TYPE y gauge\n"
          "y{reason=\"a\\\"b\"} 1\n"
          "y{a=\"1\",b=\"x\\ny\\\\\"} 0.5\n");
}

TEST_CASE("evchat's exposition: every family once, typed, counters named _total")
{
    MetricsSnapshot s;
    s.stats.accepted[static_cast<size_t>(Transport::tcp)] = 7;
    s.stats.accepted[static_cast<size_t>(Transport::websocket)] = 5;
    s.stats.refused_full = 2;
    s.stats.count_leave(LeaveReason::slow_consumer);
    s.stats.bytes_in = 123456789012ull;
    s.refused_fd_limit = 4;
    s.lines_said = 10;
    s.deliveries = 30;
    s.clients[static_cast<size_t>(Transport::websocket)] = 3;
    s.backlog_largest_bytes = 99;
    s.process.cpu_seconds = 1.25;
    s.process.open_fds = 12;
    // resident, virtual, max fds and start time unknown: left out
    std::string text = format_metrics(s);
    std::vector<std::string> lines = lines_of(text);
    REQUIRE(!lines.empty());
    CHECK(text.back() == '\n');

    std::set<std::string> families;
    std::string help_of, type_of;  // the family whose HELP / TYPE came last
    for (const std::string& l : lines) {
        CAPTURE(l);
        if (l.rfind("# HELP ", 0) == 0) {
            help_of = l.substr(7, l.find(' ', 7) - 7);
            CHECK(valid_metric_name(help_of));
            CHECK(families.insert(help_of).second);  // each family once
            continue;
        }
        if (l.rfind("# TYPE ", 0) == 0) {
            std::string name = l.substr(7, l.find(' ', 7) - 7);
            std::string type = l.substr(l.rfind(' ') + 1);
            CHECK(name == help_of);  // TYPE right after its HELP
            CHECK((type == "counter" || type == "gauge"));
            CHECK((type == "counter") == (name.size() > 6 && name.substr(name.size() - 6) == "_total"));
            type_of = name;
            continue;
        }
        std::string name = l.substr(0, l.find_first_of("{ "));
        CHECK(name == type_of);  // samples follow their family's TYPE
        CHECK(l.find(' ') != std::string::npos);
    }
    for (const char* f : {"evchat_clients", "evchat_room_members", "evchat_connections_accepted_total",
                          "evchat_connections_rejected_total", "evchat_leaves_total", "evchat_lines_received_total",
                          "evchat_lines_said_total", "evchat_deliveries_total", "evchat_input_bytes_total", "evchat_output_bytes_total",
                          "evchat_lines_dropped_total", "evchat_backlog_bytes", "evchat_backlog_largest_bytes",
                          "evchat_room_log_chunks", "evchat_room_log_bytes", "evchat_loop_iterations_total",
                          "evchat_config_reloads_total", "process_cpu_seconds_total", "process_open_fds"})
        CHECK_MESSAGE(families.count(f) == 1, f);
    CHECK(families.count("process_resident_memory_bytes") == 0);
    CHECK(families.count("process_start_time_seconds") == 0);

    auto has = [&](const std::string& line) {
        for (const std::string& l : lines)
            if (l == line)
                return true;
        return false;
    };
    CHECK(has("evchat_connections_accepted_total{transport=\"tcp\"} 7"));
    CHECK(has("evchat_connections_accepted_total{transport=\"websocket\"} 5"));
    CHECK(has("evchat_clients{transport=\"tcp\"} 0"));
    CHECK(has("evchat_clients{transport=\"websocket\"} 3"));
    CHECK(has("evchat_connections_rejected_total{reason=\"full\"} 2"));
    CHECK(has("evchat_connections_rejected_total{reason=\"per_ip\"} 0"));
    CHECK(has("evchat_connections_rejected_total{reason=\"fd_limit\"} 4"));
    CHECK(has("evchat_leaves_total{reason=\"slow_consumer\"} 1"));
    CHECK(has("evchat_input_bytes_total 123456789012"));
    CHECK(has("evchat_backlog_largest_bytes 99"));
    CHECK(has("process_cpu_seconds_total 1.25"));
    for (int r = 0; r < static_cast<int>(LeaveReason::count); r++)
        CHECK(has(std::string("evchat_leaves_total{reason=\"") + leave_reason_name(static_cast<LeaveReason>(r)) +
                  "\"} " + (r == static_cast<int>(LeaveReason::slow_consumer) ? "1" : "0")));
}

TEST_CASE("/proc/self/stat: fields counted from the last parenthesis")
{
    // A command name with spaces and parentheses; then state, ppid, ... as Linux writes it.
    std::string stat = "4242 (ev chat) (x)) S 1 4242 4242 0 -1 4194560 500 0 0 0 "
                       "150 50 0 0 20 0 1 0 12345 6414336 1016 18446744073709551615 1 1 0 0 0 0 0 0 0\n";
    ProcessFigures p;
    REQUIRE(parse_proc_stat(stat, 100, 4096, 1700000000, p));
    CHECK(p.start_time_seconds == doctest::Approx(1700000123.45));
    CHECK(p.virtual_bytes == 6414336);
    CHECK(p.resident_bytes == 1016 * 4096.0);
    ProcessFigures q;
    CHECK_FALSE(parse_proc_stat("garbage", 100, 4096, 0, q));
    CHECK_FALSE(parse_proc_stat("1 (x) S 1 2", 100, 4096, 0, q));
    CHECK(q.resident_bytes < 0);
}

TEST_CASE("the --stats table: aligned values, HELP beside each family's first row")
{
    std::string table = format_table("# HELP a_total First one.\n"
                                     "# TYPE a_total counter\n"
                                     "a_total 5\n"
                                     "# HELP long_gauge Second.\n"
                                     "# TYPE long_gauge gauge\n"
                                     "long_gauge{reason=\"x} y\"} 12345\n"
                                     "long_gauge{reason=\"z\"} 0.5 1700000000000\n"
                                     "\n"
                                     "# a comment\n"
                                     "not a sample\n");
    CHECK(table == "a_total                        5  First one.\n"
                   "long_gauge{reason=\"x} y\"}  12345  Second.\n"
                   "long_gauge{reason=\"z\"}       0.5\n");
    CHECK(format_table("") == "");
}
