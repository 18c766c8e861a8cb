// Config: TOML parsing with toml++ (header-only, so a static build needs no library),
// and validation of types and ranges with the position of every error.
#include "config.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
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

double get_rate(const toml::node& node, std::string_view key, double min)
{
    return get_number(node, key, min, 1e12, "");
}

// "HOST:PORT" as a listen address; the forms are parse_listen_address's.
std::string get_address(const toml::node& node, std::string_view key)
{
    const std::string& text = get_string(node, key);
    ListenAddress where;
    std::string err;
    if (!parse_listen_address(text, where, err))
        fail(node.source(), err);
    return text;
}

std::vector<std::string> get_listen(const toml::node& node, std::string_view key)
{
    if (!node.is_array() || node.as_array()->empty())
        fail(node.source(), std::string(key) + " must be a non-empty array of \"HOST:PORT\" strings");
    std::vector<std::string> listen;
    for (const toml::node& item : *node.as_array())
        listen.push_back(get_address(item, "listen entry"));
    return listen;
}

// One of a few strings, each standing for a value; the message lists them: "a" or "b".
template <class T>
T get_choice(const toml::node& node, std::string_view key, std::initializer_list<std::pair<const char*, T>> choices)
{
    const std::string& s = get_string(node, key);
    std::string names;
    for (size_t i = 0; i < choices.size(); i++) {
        const auto& [name, value] = choices.begin()[i];
        if (s == name)
            return value;
        if (i > 0)
            names += i + 1 == choices.size() ? " or " : ", ";
        names += "\"" + std::string(name) + "\"";
    }
    fail(node.source(), std::string(key) + " must be " + names);
}

// Whether a reload applies a key (to connected clients too), or only a restart does.
enum class Apply { reload, restart };

// One key of the file: where it sits, whether a reload applies it, how its value is read
// and checked into the Config, and how two Configs compare on it.
struct Key {
    std::string_view section;
    std::string_view name;
    Apply apply;
    std::function<void(const toml::node&, std::string_view, Config&)> read;
    std::function<bool(const Config&, const Config&)> same;
};

// A key stored in the field `member` of the section `sec`; get reads its value.
template <class S, class T, class Get>
Key key(std::string_view section, std::string_view name, Apply apply, S Config::*sec, T S::*member, Get get)
{
    return Key{section, name, apply,
               [=](const toml::node& node, std::string_view k, Config& c) { c.*sec.*member = static_cast<T>(get(node, k)); },
               [=](const Config& a, const Config& b) { return a.*sec.*member == b.*sec.*member; }};
}

auto integer(int64_t min, int64_t max)
{
    return [=](const toml::node& n, std::string_view k) { return get_integer(n, k, min, max); };
}
auto size(uint64_t min, uint64_t max)
{
    return [=](const toml::node& n, std::string_view k) { return get_size(n, k, min, max); };
}
auto seconds(double min)
{
    return [=](const toml::node& n, std::string_view k) { return get_seconds(n, k, min); };
}
auto rate(double min)
{
    return [=](const toml::node& n, std::string_view k) { return get_rate(n, k, min); };
}
auto boolean()
{
    return [](const toml::node& n, std::string_view k) { return get_bool(n, k); };
}

constexpr uint64_t max_buffer = 1ull << 40;

// Every key of the file, in the order of conf/evchat.toml.
const std::vector<Key>& keys()
{
    using C = Config;
    using A = Apply;
    static const std::vector<Key> table = {
        key("server", "listen", A::reload, &C::server, &ServerConfig::listen, get_listen),
        key("server", "backlog", A::reload, &C::server, &ServerConfig::backlog, integer(1, 65535)),
        key("server", "max_clients", A::reload, &C::server, &ServerConfig::max_clients, integer(1, 10000000)),
        key("server", "max_clients_per_ip", A::reload, &C::server, &ServerConfig::max_clients_per_ip,
            integer(0, 10000000)),
        key("server", "shutdown_grace", A::reload, &C::server, &ServerConfig::shutdown_grace, seconds(0)),
        key("server", "reuse_port", A::restart, &C::server, &ServerConfig::reuse_port, boolean()),

        key("client", "max_line_bytes", A::reload, &C::client, &ClientConfig::max_line_bytes, size(2, 64u << 20)),
        key("client", "output_soft_limit", A::reload, &C::client, &ClientConfig::output_soft_limit,
            size(1, max_buffer)),
        key("client", "output_soft_seconds", A::reload, &C::client, &ClientConfig::output_soft_seconds, seconds(0)),
        key("client", "output_hard_limit", A::reload, &C::client, &ClientConfig::output_hard_limit,
            size(1, max_buffer)),
        key("client", "slow_policy", A::reload, &C::client, &ClientConfig::slow_policy,
            [](const toml::node& n, std::string_view k) {
                return get_choice(n, k, {std::pair{"disconnect", SlowPolicy::disconnect}, {"drop", SlowPolicy::drop}});
            }),
        key("client", "drain_timeout", A::reload, &C::client, &ClientConfig::drain_timeout, seconds(0)),
        key("client", "idle_timeout", A::reload, &C::client, &ClientConfig::idle_timeout, seconds(0)),

        key("flood", "lines_per_second", A::reload, &C::flood, &FloodConfig::lines_per_second, rate(0)),
        key("flood", "lines_burst", A::reload, &C::flood, &FloodConfig::lines_burst, rate(1)),
        key("flood", "bytes_per_second", A::reload, &C::flood, &FloodConfig::bytes_per_second, size(0, 1ull << 40)),
        key("flood", "bytes_burst", A::reload, &C::flood, &FloodConfig::bytes_burst, size(1, 1ull << 40)),
        key("flood", "disconnect_after", A::reload, &C::flood, &FloodConfig::disconnect_after, seconds(0)),

        key("room", "names", A::reload, &C::room, &RoomConfig::names, boolean()),
        key("room", "roster", A::reload, &C::room, &RoomConfig::roster, boolean()),
        key("room", "commands", A::reload, &C::room, &RoomConfig::commands, boolean()),

        // A node's place in the cluster is fixed for its life: its stream, its name, its
        // origin in Redis.
        key("cluster", "redis", A::restart, &C::cluster, &ClusterConfig::redis,
            [](const toml::node& n, std::string_view k) {
                const std::string& text = get_string(n, k);
                ListenAddress where;
                std::string err;
                if (!parse_listen_address(text, where, err) || where.dual_stack)
                    fail(n.source(), "redis must be \"HOST:PORT\" with a numeric host or localhost");
                return text;
            }),
        key("cluster", "stream", A::restart, &C::cluster, &ClusterConfig::stream,
            [](const toml::node& n, std::string_view k) {
                const std::string& s = get_string(n, k);
                if (s.empty())
                    fail(n.source(), "stream must not be empty");
                return s;
            }),
        key("cluster", "maxlen", A::restart, &C::cluster, &ClusterConfig::maxlen, integer(1000, 1000000000)),
        key("cluster", "node", A::restart, &C::cluster, &ClusterConfig::node,
            [](const toml::node& n, std::string_view k) {
                const std::string& s = get_string(n, k);
                if (s.size() > 64)
                    fail(n.source(), "node must be at most 64 bytes");
                return s;
            }),
        key("cluster", "timeout", A::restart, &C::cluster, &ClusterConfig::timeout, seconds(0.1)),
        key("cluster", "lease", A::restart, &C::cluster, &ClusterConfig::lease, seconds(10.0)),

        key("admin", "listen", A::reload, &C::admin, &AdminConfig::listen,
            [](const toml::node& n, std::string_view k) {
                return get_string(n, k).empty() ? std::string() : get_address(n, k);
            }),
        key("admin", "timeout", A::reload, &C::admin, &AdminConfig::timeout, seconds(0.01)),
        key("admin", "max_connections", A::reload, &C::admin, &AdminConfig::max_connections, integer(1, 1024)),

        key("log", "level", A::reload, &C::log, &LogConfig::level,
            [](const toml::node& n, std::string_view k) {
                auto level = parse_log_level(get_string(n, k));
                if (!level)
                    fail(n.source(), "level must be \"debug\", \"info\", \"warn\" or \"error\"");
                return *level;
            }),
        key("log", "format", A::reload, &C::log, &LogConfig::format,
            [](const toml::node& n, std::string_view k) {
                return get_choice(n, k, {std::pair{"text", LogFormat::text}, {"json", LogFormat::json}});
            }),
        key("log", "summary_interval", A::reload, &C::log, &LogConfig::summary_interval, seconds(0)),
    };
    return table;
}

const Key* find_key(std::string_view section, std::string_view name)
{
    for (const Key& k : keys())
        if (k.section == section && k.name == name)
            return &k;
    return nullptr;
}

bool is_section(std::string_view name)
{
    for (const Key& k : keys())
        if (k.section == name)
            return true;
    return false;
}

// Where a rule about two keys is reported: the first of them the table gives, or the table.
toml::source_region where(const toml::table& t, const char* first, const char* second)
{
    const toml::node* n = t.get(first);
    n = n ? n : t.get(second);
    return n ? n->source() : t.source();
}

// The rules that tie keys of one section together, checked once the section is read.
void check_section(std::string_view section, const toml::table& t, const Config& c)
{
    if (section == "client") {
        // One line with its longest prefix must fit, or every client would be slow at once.
        const ClientConfig& cl = c.client;
        if (cl.output_hard_limit < cl.max_line_bytes + 64)
            fail(where(t, "output_hard_limit", "max_line_bytes"),
                 "output_hard_limit must be at least max_line_bytes + 64 (" + std::to_string(cl.max_line_bytes + 64) +
                     ")");
        if (cl.output_soft_limit > cl.output_hard_limit)
            fail(where(t, "output_soft_limit", "output_hard_limit"),
                 "output_soft_limit must not exceed output_hard_limit");
    } else if (section == "cluster") {
        if (!c.cluster.enabled())
            fail(t.source(), "[cluster] needs redis = \"HOST:PORT\"");
        // A live node renews every third of the lease; one whose link broke must find it
        // lost (timeout) and be back (up to 5 s of retry backoff) before the others may
        // take it for dead, and after an outage of Redis the others wait a lease before
        // they may sweep.
        if (c.cluster.lease < 3 * c.cluster.timeout + 10) {
            std::ostringstream msg;
            msg << "lease must be at least 3 * timeout + 10 s (lease " << c.cluster.lease << " s, timeout "
                << c.cluster.timeout << " s)";
            fail(where(t, "lease", "timeout"), msg.str());
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
        for (auto&& [section, node] : root) {
            if (!is_section(section))
                fail(section.source(), "unknown table or key \"" + std::string(section) + "\"");
            const toml::table& t = get_table(node, section);
            for (auto&& [name, value] : t) {
                const Key* k = find_key(section, name);
                if (!k)
                    fail(name.source(), "unknown key \"" + std::string(name) + "\" in [" + std::string(section) + "]");
                k->read(value, name, c);
            }
            check_section(section, t, c);
        }
        // A roster (or /who) cut short still says how many it leaves out, in a line readers take.
        if ((c.room.roster || c.room.commands) && c.client.max_line_bytes < 64)
            fail(root["room"][c.room.roster ? "roster" : "commands"].node()->source(),
                 "roster and commands need [client] max_line_bytes of at least 64");
        // The roster and the commands (/who, /nick) need to know the whole room, but a node
        // knows only its own members: across nodes they would be wrong, so they are refused.
        // Names are claimed in Redis, and work.
        if (c.cluster.enabled() && (c.room.roster || c.room.commands))
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

std::string restart_only_changes(const Config& running, const Config& next)
{
    std::string changed;
    for (const Key& k : keys())
        if (k.apply == Apply::restart && !k.same(running, next))
            changed += (changed.empty() ? "" : ", ") + ("[" + std::string(k.section) + "] " + std::string(k.name));
    return changed;
}

std::string_view default_config_text()
{
    return built_in_default;
}

const char* slow_policy_name(SlowPolicy policy)
{
    return policy == SlowPolicy::drop ? "drop" : "disconnect";
}
