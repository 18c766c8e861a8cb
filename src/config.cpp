// Config: TOML parsing with toml++ (header-only, so a static build needs no library),
// and validation of types and ranges with the position of every error.
#include "config.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>

#include "address.h"
#include "ip_range.h"
#include "presence_summary.h"
#include "tls_context.h"
#include "toml_values.h"
#include "websocket.h"

namespace {

const char built_in_default[] =
#include "default_config.inc"
    ;

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
auto string()
{
    return [](const toml::node& n, std::string_view k) { return get_string(n, k); };
}
auto boolean()
{
    return [](const toml::node& n, std::string_view k) { return get_bool(n, k); };
}

// A list of CIDR ranges.
auto ranges()
{
    return [](const toml::node& n, std::string_view k) {
        std::vector<std::string> texts = get_strings(n, k);
        IpRanges parsed;
        std::string err;
        if (!IpRanges::parse(texts, parsed, err))
            fail(n.source(), std::string(k) + ": " + err);
        return texts;
    };
}

constexpr uint64_t max_buffer = 1ull << 40;

// Every key of the file, in the order of conf/evchat.toml.
const std::vector<Key>& keys()
{
    using C = Config;
    using A = Apply;
    static const std::vector<Key> table = {
        key("server", "listen", A::reload, &C::server, &ServerConfig::listen, [](const toml::node& n, std::string_view k) { return get_addresses(n, k, false); }),
        key("server", "backlog", A::reload, &C::server, &ServerConfig::backlog, integer(1, 65535)),
        key("server", "max_clients", A::reload, &C::server, &ServerConfig::max_clients, integer(1, 10000000)),
        key("server", "max_clients_per_ip", A::reload, &C::server, &ServerConfig::max_clients_per_ip,
            integer(0, 10000000)),
        key("server", "shutdown_grace", A::reload, &C::server, &ServerConfig::shutdown_grace, seconds(0)),
        key("server", "reuse_port", A::restart, &C::server, &ServerConfig::reuse_port, boolean()),
        key("server", "max_input_memory", A::reload, &C::server, &ServerConfig::max_input_memory,
            size(64u << 10, max_buffer)),
        key("server", "io_uring", A::restart, &C::server, &ServerConfig::io_uring,
            [](const toml::node& n, std::string_view k) {
                return get_choice(n, k, {std::pair{"auto", IoUring::automatic}, {"off", IoUring::off}});
            }),

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
        // A reload trims the history at once, or starts keeping it from then on (a cluster
        // node reads the stream's earlier lines only at start).
        key("room", "history", A::reload, &C::room, &RoomConfig::history, integer(0, 10000)),
        key("room", "history_bytes", A::reload, &C::room, &RoomConfig::history_bytes, size(1, 1u << 30)),
        // A summary pending when presence changes is said at once.
        key("room", "presence", A::reload, &C::room, &RoomConfig::presence,
            [](const toml::node& n, std::string_view k) {
                return get_choice(n, k, {std::pair{"each", Presence::each}, {"summary", Presence::summary},
                                         {"none", Presence::none}});
            }),
        key("room", "presence_interval", A::reload, &C::room, &RoomConfig::presence_interval, seconds(0.01)),

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

        key("websocket", "listen", A::reload, &C::websocket, &WebSocketConfig::listen,
            [](const toml::node& n, std::string_view k) { return get_addresses(n, k, true); }),
        key("websocket", "origins", A::reload, &C::websocket, &WebSocketConfig::origins,
            [](const toml::node& n, std::string_view k) {
                std::vector<std::string> origins = get_strings(n, k);
                for (const std::string& o : origins) {
                    size_t scheme = o.find("://");
                    bool web = scheme != std::string::npos && (o.substr(0, scheme) == "http" || o.substr(0, scheme) == "https");
                    if (o != "*" && (!web || o.size() == scheme + 3 || o.find('/', scheme + 3) != std::string::npos))
                        fail(n.source(), "origins entries must be \"*\" or \"http(s)://HOST[:PORT]\" (no path), not \"" +
                                             o + "\"");
                }
                return origins;
            }),
        key("websocket", "timeout", A::reload, &C::websocket, &WebSocketConfig::timeout, seconds(0.01)),
        key("websocket", "tls", A::reload, &C::websocket, &WebSocketConfig::tls, boolean()),

        // The files are read (and checked) by every load and reload, once the file is read.
        key("tls", "listen", A::reload, &C::tls, &TlsConfig::listen,
            [](const toml::node& n, std::string_view k) { return get_addresses(n, k, true); }),
        key("tls", "cert", A::reload, &C::tls, &TlsConfig::cert, string()),
        key("tls", "key", A::reload, &C::tls, &TlsConfig::key, string()),
        key("tls", "min_version", A::reload, &C::tls, &TlsConfig::min_version,
            [](const toml::node& n, std::string_view k) {
                const std::string& v = get_string(n, k);
                if (v != "1.2" && v != "1.3")
                    fail(n.source(), "min_version must be \"1.2\" or \"1.3\"");
                return v == "1.3" ? TlsVersion::v1_3 : TlsVersion::v1_2;
            }),
        key("tls", "ciphers", A::reload, &C::tls, &TlsConfig::ciphers, string()),
        key("tls", "ciphersuites", A::reload, &C::tls, &TlsConfig::ciphersuites, string()),
        key("tls", "handshake_timeout", A::reload, &C::tls, &TlsConfig::handshake_timeout, seconds(0.01)),

        key("proxy", "trusted", A::reload, &C::proxy, &ProxyConfig::trusted, ranges()),
        key("proxy", "timeout", A::reload, &C::proxy, &ProxyConfig::timeout, seconds(0.01)),

        key("access", "allow", A::reload, &C::access, &AccessConfig::allow, ranges()),
        key("access", "deny", A::reload, &C::access, &AccessConfig::deny, ranges()),
        key("access", "apply_to_connected", A::reload, &C::access, &AccessConfig::apply_to_connected, boolean()),
        key("access", "connect_rate", A::reload, &C::access, &AccessConfig::connect_rate, rate(0)),
        key("access", "connect_burst", A::reload, &C::access, &AccessConfig::connect_burst, rate(1)),

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
    } else if (section == "websocket") {
        if (!c.websocket.listen.empty() && !websocket_available)
            fail(t.get("listen")->source(), "this evchat was built without WebSocket (a static build with no "
                                            "libwslay.a): [websocket] listen needs the dynamic build");
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

// A certificate is needed by any TLS listener, and a certificate given must load, whether
// or not a listener uses it yet: a reload must not find out later that it cannot.
void check_tls(const toml::table& root, const Config& c)
{
    const TlsConfig& tls = c.tls;
    auto at = [&](const char* section, const char* key) {
        const toml::node* n = root[section][key].node();
        return n ? n->source() : root[section].node() ? root[section].node()->source() : root.source();
    };
    if (tls.used(c.websocket) && (tls.cert.empty() || tls.key.empty()))
        fail(c.tls.listen.empty() ? at("websocket", "tls") : at("tls", "listen"),
             "TLS needs [tls] cert and key (PEM files)");
    if (tls.cert.empty() != tls.key.empty())
        fail(at("tls", tls.cert.empty() ? "key" : "cert"), "[tls] cert and key go together");
    if (tls.cert.empty())
        return;
    std::string err;
    TlsContext::Culprit culprit;
    if (!TlsContext::load(tls, err, culprit)) {
        static const char* const names[] = {"cert", "key", "min_version", "ciphers", "ciphersuites"};
        fail(at("tls", names[static_cast<int>(culprit)]), err);
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
        // A summary's counts must fit a line, whatever its lists are cut to.
        if (c.room.presence == Presence::summary && c.client.max_line_bytes < PresenceSummary::min_line)
            fail(root["room"]["presence"].node()->source(),
                 "presence = \"summary\" needs [client] max_line_bytes of at least " +
                     std::to_string(PresenceSummary::min_line));
        // A newcomer owed its whole history must not be a slow consumer for it.
        if (c.room.history > 0 && c.room.history_bytes > c.client.output_soft_limit) {
            const toml::node* n = root["room"]["history_bytes"].node();
            fail((n ? n : root["room"]["history"].node())->source(),
                 "history_bytes (" + std::to_string(c.room.history_bytes) +
                     ") must not exceed [client] output_soft_limit (" + std::to_string(c.client.output_soft_limit) +
                     ")");
        }
        check_tls(root, c);
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
