// Config: TOML parsing with toml++ (header-only, so a static build needs no library),
// and validation of types and ranges with the position of every error.
#include "config.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

// toml++ 3.3 asserts things about its input that malformed files violate ("[#", a NUL
// in a key) although its own error path handles them; under NDEBUG it would even tell
// the compiler to assume them. Its internal checks are therefore off here, whatever
// NDEBUG says. Found by tests/fuzz/config_fuzz.cpp (the corpus keeps the inputs).
#define TOML_ASSERT(expr) static_cast<void>(0)
#pragma push_macro("NDEBUG")
#undef NDEBUG
#include <toml++/toml.h>
#pragma pop_macro("NDEBUG")

#include "address.h"

namespace {

const char built_in_default[] =
#include "default_config.inc"
    ;

// Raised at the first invalid setting; carries the node whose position is reported.
struct Invalid {
    toml::source_region where;
    std::string message;
};

[[noreturn]] void fail(const toml::source_region& where, std::string message)
{
    throw Invalid{where, std::move(message)};
}

constexpr double max_seconds = 86400.0;

// A number, integer or not, within [min, max]; unit names what it counts in messages.
double get_number(const toml::node& node, std::string_view key, double min, double max, std::string_view unit)
{
    std::optional<double> value = node.value<double>();  // accepts integers too
    std::string of = unit.empty() ? "" : " " + std::string(unit);
    if (!value || !node.is_number())
        fail(node.source(), std::string(key) + " must be a number" + (unit.empty() ? "" : " of" + of));
    if (!std::isfinite(*value) || *value < min || *value > max) {
        std::ostringstream msg;
        msg << key << " must be between " << min << " and " << max << of;
        fail(node.source(), msg.str());
    }
    return *value;
}

double get_seconds(const toml::node& node, std::string_view key, double min)
{
    return get_number(node, key, min, max_seconds, "seconds");
}

int64_t get_integer(const toml::node& node, std::string_view key, int64_t min, int64_t max)
{
    if (!node.is_integer())
        fail(node.source(), std::string(key) + " must be an integer");
    int64_t value = **node.as_integer();
    if (value < min || value > max)
        fail(node.source(), std::string(key) + " must be between " + std::to_string(min) +
                                " and " + std::to_string(max));
    return value;
}

// Sizes: an integer count of bytes, or "64KiB" / "1MiB" / "2GiB" / "100B".
size_t get_size(const toml::node& node, std::string_view key, uint64_t min, uint64_t max)
{
    uint64_t bytes = 0;
    if (node.is_integer()) {
        int64_t v = **node.as_integer();
        bytes = v < 0 ? UINT64_MAX : static_cast<uint64_t>(v);
    } else if (node.is_string()) {
        const std::string& s = **node.as_string();
        char* end = nullptr;
        errno = 0;
        unsigned long long n = strtoull(s.c_str(), &end, 10);
        std::string unit(end);
        uint64_t scale = unit == "" || unit == "B"  ? 1
                         : unit == "KiB"             ? 1ull << 10
                         : unit == "MiB"             ? 1ull << 20
                         : unit == "GiB"             ? 1ull << 30
                                                     : 0;
        if (end == s.c_str() || errno || !scale || s[0] == '-' || s[0] == '+')
            fail(node.source(), std::string(key) +
                                    " must be a size: bytes, or a string like \"64KiB\", "
                                    "\"1MiB\", \"1GiB\"");
        bytes = n > UINT64_MAX / scale ? UINT64_MAX : n * scale;
    } else {
        fail(node.source(), std::string(key) + " must be a size (an integer or a string)");
    }
    if (bytes < min || bytes > max)
        fail(node.source(), std::string(key) + " must be between " + std::to_string(min) +
                                " and " + std::to_string(max) + " bytes");
    return static_cast<size_t>(bytes);
}

const std::string& get_string(const toml::node& node, std::string_view key)
{
    if (!node.is_string())
        fail(node.source(), std::string(key) + " must be a string");
    return **node.as_string();
}

bool get_bool(const toml::node& node, std::string_view key)
{
    if (!node.is_boolean())
        fail(node.source(), std::string(key) + " must be true or false");
    return **node.as_boolean();
}

const toml::table& get_table(const toml::node& node, std::string_view key)
{
    if (!node.is_table())
        fail(node.source(), "[" + std::string(key) + "] must be a table");
    return *node.as_table();
}

void read_server(const toml::table& t, Config& c)
{
    for (auto&& [key, node] : t) {
        if (key == "listen") {
            if (!node.is_array() || node.as_array()->empty())
                fail(node.source(), "listen must be a non-empty array of \"HOST:PORT\" strings");
            std::vector<std::string> listen;
            for (const toml::node& item : *node.as_array()) {
                const std::string& text = get_string(item, "listen entry");
                ListenAddress parsed;
                std::string err;
                if (!parse_listen_address(text, parsed, err))
                    fail(item.source(), err);
                listen.push_back(text);
            }
            c.listen = std::move(listen);
        } else if (key == "backlog") {
            c.backlog = static_cast<int>(get_integer(node, key, 1, 65535));
        } else if (key == "shutdown_grace") {
            c.shutdown_grace = get_seconds(node, key, 0.0);
        } else if (key == "max_clients") {
            c.max_clients = static_cast<size_t>(get_integer(node, key, 1, 10000000));
        } else if (key == "max_clients_per_ip") {
            c.max_clients_per_ip = static_cast<size_t>(get_integer(node, key, 0, 10000000));
        } else if (key == "reuse_port") {
            c.reuse_port = get_bool(node, key);
        } else {
            fail(key.source(), "unknown key \"" + std::string(key) + "\" in [server]");
        }
    }
}

void read_client(const toml::table& t, Config& c)
{
    constexpr uint64_t max_buffer = 1ull << 40;
    for (auto&& [key, node] : t) {
        if (key == "max_line_bytes") {
            c.max_line_bytes = get_size(node, key, 2, 64u << 20);
        } else if (key == "output_soft_limit") {
            c.output_soft_limit = get_size(node, key, 1, max_buffer);
        } else if (key == "output_soft_seconds") {
            c.output_soft_seconds = get_seconds(node, key, 0.0);
        } else if (key == "output_hard_limit") {
            c.output_hard_limit = get_size(node, key, 1, max_buffer);
        } else if (key == "slow_policy") {
            const std::string& s = get_string(node, key);
            if (s == "disconnect")
                c.slow_policy = SlowPolicy::disconnect;
            else if (s == "drop")
                c.slow_policy = SlowPolicy::drop;
            else
                fail(node.source(), "slow_policy must be \"disconnect\" or \"drop\"");
        } else if (key == "drain_timeout") {
            c.drain_timeout = get_seconds(node, key, 0.0);
        } else if (key == "idle_timeout") {
            c.idle_timeout = get_seconds(node, key, 0.0);
        } else {
            fail(key.source(), "unknown key \"" + std::string(key) + "\" in [client]");
        }
    }
    // One line with its longest prefix must fit, or every client would be slow at once.
    auto where = [&t](const char* first, const char* second) {
        const toml::node* n = t.get(first);
        n = n ? n : t.get(second);
        return n ? n->source() : t.source();
    };
    if (c.output_hard_limit < c.max_line_bytes + 64)
        fail(where("output_hard_limit", "max_line_bytes"),
             "output_hard_limit must be at least max_line_bytes + 64 (" +
                 std::to_string(c.max_line_bytes + 64) + ")");
    if (c.output_soft_limit > c.output_hard_limit)
        fail(where("output_soft_limit", "output_hard_limit"),
             "output_soft_limit must not exceed output_hard_limit");
}

double get_rate(const toml::node& node, std::string_view key, double min)
{
    return get_number(node, key, min, 1e12, "");
}

void read_flood(const toml::table& t, Config& c)
{
    for (auto&& [key, node] : t) {
        if (key == "lines_per_second")
            c.flood_lines_per_second = get_rate(node, key, 0);
        else if (key == "lines_burst")
            c.flood_lines_burst = get_rate(node, key, 1);
        else if (key == "bytes_per_second")
            c.flood_bytes_per_second = static_cast<double>(get_size(node, key, 0, 1ull << 40));
        else if (key == "bytes_burst")
            c.flood_bytes_burst = static_cast<double>(get_size(node, key, 1, 1ull << 40));
        else if (key == "disconnect_after")
            c.flood_disconnect_after = get_seconds(node, key, 0.0);
        else
            fail(key.source(), "unknown key \"" + std::string(key) + "\" in [flood]");
    }
}

void read_cluster(const toml::table& t, Config& c)
{
    for (auto&& [key, node] : t) {
        if (key == "redis") {
            const std::string& text = get_string(node, key);
            ListenAddress where;
            std::string err;
            if (!parse_listen_address(text, where, err) || where.dual_stack)
                fail(node.source(), "redis must be \"HOST:PORT\" with a numeric host or localhost");
            c.cluster_redis = text;
        } else if (key == "stream") {
            c.cluster_stream = get_string(node, key);
            if (c.cluster_stream.empty())
                fail(node.source(), "stream must not be empty");
        } else if (key == "maxlen") {
            c.cluster_maxlen = static_cast<size_t>(get_integer(node, key, 1000, 1000000000));
        } else if (key == "timeout") {
            c.cluster_timeout = get_seconds(node, key, 0.1);
        } else if (key == "lease") {
            c.cluster_lease = get_seconds(node, key, 10.0);
        } else if (key == "node") {
            c.cluster_node = get_string(node, key);
            if (c.cluster_node.size() > 64)
                fail(node.source(), "node must be at most 64 bytes");
        } else {
            fail(key.source(), "unknown key \"" + std::string(key) + "\" in [cluster]");
        }
    }
    if (c.cluster_redis.empty())
        fail(t.source(), "[cluster] needs redis = \"HOST:PORT\"");
    // A live node renews every third of the lease; one whose link broke must find it lost
    // (timeout) and be back (up to 5 s of retry backoff) before the others may take it for
    // dead, and after an outage of Redis the others wait a lease before they may sweep.
    if (c.cluster_lease < 3 * c.cluster_timeout + 10) {
        const toml::node* lease = t.get("lease");
        std::ostringstream msg;
        msg << "lease must be at least 3 * timeout + 10 s (lease " << c.cluster_lease << " s, timeout "
            << c.cluster_timeout << " s)";
        fail(lease ? lease->source() : t.source(), msg.str());
    }
}

void read_room(const toml::table& t, Config& c)
{
    for (auto&& [key, node] : t) {
        if (key == "names")
            c.names = get_bool(node, key);
        else if (key == "roster")
            c.roster = get_bool(node, key);
        else if (key == "commands")
            c.commands = get_bool(node, key);
        else
            fail(key.source(), "unknown key \"" + std::string(key) + "\" in [room]");
    }
}

void read_admin(const toml::table& t, Config& c)
{
    for (auto&& [key, node] : t) {
        if (key == "listen") {
            const std::string& text = get_string(node, key);
            ListenAddress where;
            std::string err;
            if (!text.empty() && !parse_listen_address(text, where, err))
                fail(node.source(), err);
            c.admin_listen = text;
        } else if (key == "timeout") {
            c.admin_timeout = get_seconds(node, key, 0.01);
        } else if (key == "max_connections") {
            c.admin_max_connections = static_cast<size_t>(get_integer(node, key, 1, 1024));
        } else {
            fail(key.source(), "unknown key \"" + std::string(key) + "\" in [admin]");
        }
    }
}

void read_log(const toml::table& t, Config& c)
{
    for (auto&& [key, node] : t) {
        if (key == "level") {
            auto level = parse_log_level(get_string(node, key));
            if (!level)
                fail(node.source(), "level must be \"debug\", \"info\", \"warn\" or \"error\"");
            c.log_level = *level;
        } else if (key == "format") {
            const std::string& f = get_string(node, key);
            if (f != "text" && f != "json")
                fail(node.source(), "format must be \"text\" or \"json\"");
            c.log_format = f == "json" ? LogFormat::json : LogFormat::text;
        } else if (key == "summary_interval") {
            c.summary_interval = get_seconds(node, key, 0.0);
        } else {
            fail(key.source(), "unknown key \"" + std::string(key) + "\" in [log]");
        }
    }
}

// toml++ 3.3 reaches __builtin_unreachable() (undefined behaviour) for some non-ASCII
// characters where it expects whitespace, e.g. U+FEF7 or U+00E9 between tokens or after a
// line-ending backslash in a string (found by tests/fuzz/config_fuzz.cpp). No evchat key
// or value needs them, so outside comments the file must be ASCII. Returns the 1-based
// line and column of the first offending byte, or line 0.
std::pair<size_t, size_t> non_ascii_code(std::string_view text)
{
    enum { code, comment, basic, literal, multi_basic, multi_literal } state = code;
    size_t line = 1, col = 0;
    auto starts = [&](size_t i, const char* s) { return text.compare(i, strlen(s), s) == 0; };
    for (size_t i = 0; i < text.size(); i++) {
        char ch = text[i];
        col++;
        if (ch == '\n') {
            line++;
            col = 0;
            if (state == comment || state == basic || state == literal)
                state = code;  // single-line ones end here (or the file is invalid anyway)
            continue;
        }
        if (state != comment && static_cast<unsigned char>(ch) >= 0x80)
            return {line, col};
        size_t skip = 0;
        switch (state) {
        case code:
            if (ch == '#')
                state = comment;
            else if (starts(i, "\"\"\""))
                state = multi_basic, skip = 2;
            else if (starts(i, "'''"))
                state = multi_literal, skip = 2;
            else if (ch == '"')
                state = basic;
            else if (ch == '\'')
                state = literal;
            break;
        case basic:
        case multi_basic: {
            bool multi = state == multi_basic;
            if (ch == '\\' && i + 1 < text.size() && text[i + 1] != '\n') {
                skip = 1;
            } else if (multi ? starts(i, "\"\"\"") : ch == '"') {
                state = code;
                skip = multi ? 2 : 0;
            }
            break;
        }
        case literal:
            if (ch == '\'')
                state = code;
            break;
        case multi_literal:
            if (starts(i, "'''"))
                state = code, skip = 2;
            break;
        case comment:
            break;
        }
        i += skip;
        col += skip;
    }
    return {0, 0};
}

std::string position(const std::string& source, const toml::source_region& where)
{
    return source + ":" + std::to_string(where.begin.line) + ":" +
           std::to_string(where.begin.column) + ": ";
}

}  // namespace

std::string parse_config(std::string_view text, const std::string& source, Config& out)
{
    if (auto [line, col] = non_ascii_code(text); line)
        return source + ":" + std::to_string(line) + ":" + std::to_string(col) +
               ": non-ASCII character outside a comment";
    Config c;
    try {
        toml::table root = toml::parse(text, source);
        for (auto&& [key, node] : root) {
            if (key == "server")
                read_server(get_table(node, key), c);
            else if (key == "client")
                read_client(get_table(node, key), c);
            else if (key == "flood")
                read_flood(get_table(node, key), c);
            else if (key == "room")
                read_room(get_table(node, key), c);
            else if (key == "cluster")
                read_cluster(get_table(node, key), c);
            else if (key == "admin")
                read_admin(get_table(node, key), c);
            else if (key == "log")
                read_log(get_table(node, key), c);
            else
                fail(key.source(), "unknown table or key \"" + std::string(key) + "\"");
        }
        // A roster (or /who) cut short still says how many it leaves out, in a line readers take.
        if ((c.roster || c.commands) && c.max_line_bytes < 64)
            fail(root["room"][c.roster ? "roster" : "commands"].node()->source(),
                 "roster and commands need [client] max_line_bytes of at least 64");
        // The roster and the commands (/who, /nick) need to know the whole room, but a node
        // knows only its own members: across nodes they would be wrong, so they are refused.
        // Names are claimed in Redis, and work.
        if (!c.cluster_redis.empty() && (c.roster || c.commands))
            fail(root["cluster"].node()->source(), "[room] roster and commands do not work with [cluster] yet");
    } catch (const toml::parse_error& e) {
        return position(source, e.source()) + std::string(e.description());
    } catch (const Invalid& e) {
        return position(source, e.where) + e.message;
    }
    out = std::move(c);
    return "";
}

std::string load_config(const std::string& path, Config& out)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return path + ": " + strerror(errno);
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad())
        return path + ": read error";
    return parse_config(text.str(), path, out);
}

std::string_view default_config_text()
{
    return built_in_default;
}

const char* slow_policy_name(SlowPolicy policy)
{
    return policy == SlowPolicy::drop ? "drop" : "disconnect";
}
