// Metrics: exposition writing, evchat's families, /proc/self, and the --stats table.
#include "metrics.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

namespace {

bool name_char(char c, bool first, bool colon)
{
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
    return alpha || (!first && c >= '0' && c <= '9');
}

bool valid_name(std::string_view name, bool colon)
{
    if (name.empty())
        return false;
    for (size_t i = 0; i < name.size(); i++)
        if (!name_char(name[i], i == 0, colon))
            return false;
    return true;
}

std::string escape(std::string_view s, bool quote)
{
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else if (c == '"' && quote)
            out += "\\\"";
        else
            out += c;
    }
    return out;
}

const char* type_name(MetricType type)
{
    return type == MetricType::counter ? "counter" : "gauge";
}

}  // namespace

bool valid_metric_name(std::string_view name)
{
    return valid_name(name, true);
}

bool valid_label_name(std::string_view name)
{
    return valid_name(name, false) && name.substr(0, 2) != "__";
}

std::string escape_label_value(std::string_view value)
{
    return escape(value, true);
}

std::string escape_help(std::string_view help)
{
    return escape(help, false);
}

std::string format_sample_value(double value)
{
    if (std::isnan(value))
        return "NaN";
    if (std::isinf(value))
        return value > 0 ? "+Inf" : "-Inf";
    char buf[32];
    // Integers below 2^53 are exact in a double: print them without exponent or point.
    if (value == std::floor(value) && std::fabs(value) < 9007199254740992.0) {
        snprintf(buf, sizeof buf, "%.0f", value);
        return buf;
    }
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(buf, sizeof buf, "%.*g", precision, value);
        if (strtod(buf, nullptr) == value)
            break;
    }
    return buf;
}

void Exposition::family(std::string_view name, MetricType type, std::string_view help)
{
    assert(valid_metric_name(name));
    family_ = name;
    text_.append("# HELP ").append(name).append(" ").append(escape_help(help)).append("\n");
    text_.append("# TYPE ").append(name).append(" ").append(type_name(type)).append("\n");
}

void Exposition::sample(std::initializer_list<Label> labels, double value)
{
    assert(!family_.empty());
    text_ += family_;
    if (labels.size() > 0) {
        text_ += '{';
        for (const Label& l : labels) {
            assert(valid_label_name(l.name));
            if (&l != labels.begin())
                text_ += ',';
            text_.append(l.name).append("=\"").append(escape_label_value(l.value)).append("\"");
        }
        text_ += '}';
    }
    text_.append(" ").append(format_sample_value(value)).append("\n");
}

bool proc_stat_fields(std::string_view stat, size_t count, std::vector<double>& fields)
{
    // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses, so the fields
    // are counted from the last ')'. Field 3 (the state, a letter) reads as 0.
    size_t paren = stat.rfind(')');
    if (paren == std::string_view::npos)
        return false;
    fields.clear();
    std::istringstream in(std::string(stat.substr(paren + 1)));
    for (std::string f; fields.size() < count && in >> f;)
        fields.push_back(strtod(f.c_str(), nullptr));
    return fields.size() == count;
}

double rusage_cpu_seconds()
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

bool parse_proc_stat(std::string_view stat, double ticks_per_second, double page_size, double boot_time,
                     ProcessFigures& out)
{
    std::vector<double> fields;
    if (!proc_stat_fields(stat, 22, fields))
        return false;
    auto field = [&](int n) { return fields[static_cast<size_t>(n - 3)]; };
    out.start_time_seconds = boot_time >= 0 ? boot_time + field(22) / ticks_per_second : -1;
    out.virtual_bytes = field(23);
    out.resident_bytes = field(24) * page_size;
    return true;
}

ProcessFigures read_process_figures()
{
    ProcessFigures p;
    auto slurp = [](const char* path) {
        std::ifstream in(path);
        std::ostringstream text;
        text << in.rdbuf();
        return text.str();
    };
    double boot_time = -1;
    std::string proc_stat = slurp("/proc/stat");
    size_t btime = proc_stat.find("\nbtime ");
    if (btime != std::string::npos)
        boot_time = strtod(proc_stat.c_str() + btime + 7, nullptr);
    parse_proc_stat(slurp("/proc/self/stat"), static_cast<double>(sysconf(_SC_CLK_TCK)),
                    static_cast<double>(sysconf(_SC_PAGESIZE)), boot_time, p);
    if (DIR* dir = opendir("/proc/self/fd")) {
        double n = 0;
        std::string own = std::to_string(dirfd(dir));  // the listing's own descriptor
        while (const dirent* e = readdir(dir))
            if (e->d_name[0] != '.' && own != e->d_name)
                n++;
        closedir(dir);
        p.open_fds = n;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        p.max_fds = static_cast<double>(rl.rlim_cur);
    p.cpu_seconds = rusage_cpu_seconds();
    return p;
}

std::string format_metrics(const MetricsSnapshot& s)
{
    using T = MetricType;
    auto d = [](uint64_t v) { return static_cast<double>(v); };
    Exposition e;
    auto by_transport = [&](const uint64_t* counts) {
        for (size_t i = 0; i < static_cast<size_t>(Transport::count); i++)
            e.sample({{"transport", transport_name(static_cast<Transport>(i))}}, d(counts[i]));
    };
    e.family("evchat_clients", T::gauge,
             "Chat connections open: in the room, choosing a name, or leaving (output still draining).");
    by_transport(s.clients);
    e.family("evchat_room_members", T::gauge, "Clients in the room (on this node).");
    e.sample(d(s.room_members));
    e.family("evchat_connections_accepted_total", T::counter,
             "Chat connections accepted (refused ones are not counted), by transport.");
    by_transport(s.stats.accepted);
    e.family("evchat_connections_rejected_total", T::counter,
             "Chat connections refused: full (max_clients), per_ip (max_clients_per_ip), access "
             "([access] allow and deny), connect_rate ([access] connect_rate), proxy (a trusted "
             "proxy's PROXY header missing, malformed or late), fd_limit (accept failed for want "
             "of descriptors or memory; each retry counts, and the connection waits in the "
             "kernel's queue).");
    e.sample({{"reason", "full"}}, d(s.stats.refused_full));
    e.sample({{"reason", "per_ip"}}, d(s.stats.refused_per_ip));
    e.sample({{"reason", "access"}}, d(s.stats.refused_access));
    e.sample({{"reason", "connect_rate"}}, d(s.stats.refused_rate));
    e.sample({{"reason", "proxy"}}, d(s.stats.refused_proxy));
    e.sample({{"reason", "fd_limit"}}, d(s.refused_fd_limit));
    e.family("evchat_leaves_total", T::counter, "Clients that left the room, by reason.");
    for (size_t i = 0; i < static_cast<size_t>(LeaveReason::count); i++)
        e.sample({{"reason", leave_reason_name(static_cast<LeaveReason>(i))}}, d(s.stats.leaves[i]));
    e.family("evchat_lines_received_total", T::counter,
             "Lines read from this node's chat clients: what they said, and names and commands.");
    e.sample(d(s.stats.lines_received));
    e.family("evchat_lines_said_total", T::counter,
             "Lines said in the room (chat lines and /me), once each however many hear them.");
    e.sample(d(s.lines_said));
    e.family("evchat_deliveries_total", T::counter,
             "Lines of the room (said, arrivals, leaves, renames), once per member meant to hear each.");
    e.sample(d(s.deliveries));
    e.family("evchat_input_bytes_total", T::counter, "Bytes read from chat clients.");
    e.sample(d(s.stats.bytes_in));
    e.family("evchat_input_held_bytes", T::gauge,
             "Bytes held in unfinished lines, all clients together ([server] max_input_memory).");
    e.sample(d(s.stats.input_held));
    e.family("evchat_output_bytes_total", T::counter, "Bytes written to chat clients.");
    e.sample(d(s.stats.bytes_out));
    e.family("evchat_lines_dropped_total", T::counter,
             "Lines skipped for slow consumers under slow_policy = \"drop\".");
    e.sample(d(s.stats.lines_dropped));
    e.family("evchat_backlog_bytes", T::gauge, "Bytes owed to all clients and not yet written.");
    e.sample(d(s.backlog_bytes));
    e.family("evchat_backlog_largest_bytes", T::gauge, "The largest backlog of one client, in bytes.");
    e.sample(d(s.backlog_largest_bytes));
    e.family("evchat_room_log_chunks", T::gauge,
             "Chunks of the shared room log held: the tail, and those a client has yet to read.");
    e.sample(d(s.log_chunks));
    e.family("evchat_room_log_bytes", T::gauge, "Bytes of the shared room log held.");
    e.sample(d(s.log_bytes));
    e.family("evchat_loop_iterations_total", T::counter, "Iterations of the event loop (flush passes).");
    e.sample(d(s.stats.loop_iterations));
    e.family("evchat_loop_busy_seconds_max", T::gauge,
             "The longest one iteration of the event loop ran (from waking to sleeping again) since start.");
    e.sample(s.stats.loop_busy_max);
    e.family("evchat_flush_path", T::gauge,
             "How the flush pass writes ([server] io_uring): 1 for the path in use, io_uring or writev.");
    e.sample({{"path", "io_uring"}}, s.io_uring ? 1 : 0);
    e.sample({{"path", "writev"}}, s.io_uring ? 0 : 1);
    if (s.io_uring) {
        e.family("evchat_io_uring_sends_total", T::counter, "Sends the flush pass submitted through io_uring.");
        e.sample(d(s.ring_sends));
        e.family("evchat_io_uring_submissions_total", T::counter,
                 "io_uring submissions: a flush pass submits its sends 8 at a time.");
        e.sample(d(s.ring_submissions));
        e.family("evchat_io_uring_short_sends_total", T::counter,
                 "Sends through io_uring that the socket took only part of, or none (EAGAIN): the client "
                 "then waits for its socket to drain.");
        e.sample(d(s.ring_short_sends));
    }
    e.family("evchat_tls_handshakes_total", T::counter,
             "TLS handshakes (chat and web listeners) by result: ok, failed (not TLS, an old version, "
             "a bad message, a reset), timeout ([tls] handshake_timeout), closed (by the peer before "
             "the end), refused (over max_clients under way at once).");
    const TlsHandshakes& h = s.stats.tls_handshakes;
    e.sample({{"result", "ok"}}, d(h.ok));
    e.sample({{"result", "failed"}}, d(h.failed));
    e.sample({{"result", "timeout"}}, d(h.timeout));
    e.sample({{"result", "closed"}}, d(h.closed));
    e.sample({{"result", "refused"}}, d(h.refused));
    if (s.stats.tls_cert_not_after > 0) {
        e.family("evchat_tls_cert_expiry_timestamp_seconds", T::gauge,
                 "When the certificate of [tls] cert stops being valid (its notAfter), as Unix time.");
        e.sample(s.stats.tls_cert_not_after);
    }
    e.family("evchat_config_reloads_total", T::counter, "Config reloads (SIGHUP), by result.");
    e.sample({{"result", "ok"}}, d(s.stats.reloads_ok));
    e.sample({{"result", "failed"}}, d(s.stats.reloads_failed));

    const ProcessFigures& p = s.process;
    auto process = [&](const char* name, T type, const char* help, double value) {
        if (value < 0)
            return;
        e.family(name, type, help);
        e.sample(value);
    };
    process("process_cpu_seconds_total", T::counter, "Total user and system CPU time spent in seconds.",
            p.cpu_seconds);
    process("process_resident_memory_bytes", T::gauge, "Resident memory size in bytes.", p.resident_bytes);
    process("process_virtual_memory_bytes", T::gauge, "Virtual memory size in bytes.", p.virtual_bytes);
    process("process_open_fds", T::gauge, "Number of open file descriptors.", p.open_fds);
    process("process_max_fds", T::gauge, "Maximum number of open file descriptors.", p.max_fds);
    process("process_start_time_seconds", T::gauge,
            "Start time of the process since unix epoch in seconds.", p.start_time_seconds);
    return e.text();
}

namespace {

// Splits a sample line into NAME{LABELS} and its value; false for anything else.
bool split_sample(std::string_view line, std::string_view& series, std::string_view& value)
{
    size_t i = 0;
    while (i < line.size() && name_char(line[i], i == 0, true))
        i++;
    if (i == 0)
        return false;
    if (i < line.size() && line[i] == '{') {
        bool quoted = false;
        for (i++; i < line.size(); i++) {
            if (quoted && line[i] == '\\')
                i++;
            else if (line[i] == '"')
                quoted = !quoted;
            else if (!quoted && line[i] == '}')
                break;
        }
        if (i >= line.size())
            return false;
        i++;
    }
    series = line.substr(0, i);
    size_t start = line.find_first_not_of(" \t", i);
    if (start == i || start == std::string_view::npos)
        return false;
    size_t end = line.find_first_of(" \t", start);
    value = line.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    std::string number(value);
    char* stop = nullptr;
    strtod(number.c_str(), &stop);
    if (*stop != '\0')
        return false;
    // Nothing may follow but a timestamp (integer milliseconds).
    std::string_view rest = end == std::string_view::npos ? "" : line.substr(end);
    rest.remove_prefix(std::min(rest.size(), rest.find_first_not_of(" \t")));
    if (!rest.empty() && rest[0] == '-')
        rest.remove_prefix(1);
    return rest.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace

std::string format_table(std::string_view exposition)
{
    struct Row {
        std::string series, value, help;
    };
    std::vector<Row> rows;
    std::string help_name, help;  // the last HELP, shown beside its family's first sample
    while (!exposition.empty()) {
        size_t eol = exposition.find('\n');
        std::string_view line = exposition.substr(0, eol);
        exposition = eol == std::string_view::npos ? "" : exposition.substr(eol + 1);
        if (line.substr(0, 7) == "# HELP ") {
            std::string_view rest = line.substr(7);
            size_t sp = rest.find(' ');
            help_name = rest.substr(0, sp);
            help = sp == std::string_view::npos ? "" : rest.substr(sp + 1);
            continue;
        }
        std::string_view series, value;
        if (line.empty() || line[0] == '#' || !split_sample(line, series, value))
            continue;
        Row row{std::string(series), std::string(value), ""};
        if (series.substr(0, series.find('{')) == help_name) {
            row.help = std::move(help);
            help_name.clear();
        }
        rows.push_back(std::move(row));
    }
    size_t series_width = 0, value_width = 0;
    for (const Row& r : rows) {
        series_width = std::max(series_width, r.series.size());
        value_width = std::max(value_width, r.value.size());
    }
    std::string out;
    for (const Row& r : rows) {
        std::string line = r.series + std::string(series_width - r.series.size() + 2, ' ') +
                           std::string(value_width - r.value.size(), ' ') + r.value;
        if (!r.help.empty())
            line += "  " + r.help;
        out += line + "\n";
    }
    return out;
}
