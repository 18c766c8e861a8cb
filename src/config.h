// Config: every setting of conf/evchat.toml with its default, one struct per section,
// loaded and validated here. Pure (no sockets); main owns the Config and the server reads it.
#pragma once

#include "log.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

enum class SlowPolicy { disconnect, drop };
// How the room hears arrivals and leaves: each as a line (the seed), gathered into a
// summary line at most once an interval, or not at all.
enum class Presence { each, summary, none };
enum class IoUring { automatic, off };

// Which keys a reload may change is said where the keys are declared, in config.cpp's
// table; the defaults are here and in conf/evchat.toml (a unit test holds them equal).
struct ServerConfig {
    std::vector<std::string> listen{"localhost:8000"};
    int backlog = 511;
    double shutdown_grace = 5.0;
    size_t max_clients = 10000;
    size_t max_clients_per_ip = 0;  // 0: no limit
    bool reuse_port = false;
    size_t max_input_memory = 64u << 20;  // bytes held in unfinished lines, all clients
    IoUring io_uring = IoUring::automatic;
    bool operator==(const ServerConfig&) const = default;
};

struct ClientConfig {
    size_t max_line_bytes = 65536;
    size_t output_soft_limit = 1 << 20;
    double output_soft_seconds = 60.0;
    size_t output_hard_limit = 8 << 20;
    SlowPolicy slow_policy = SlowPolicy::disconnect;
    double drain_timeout = 5.0;
    double idle_timeout = 300.0;  // 0: never
    bool operator==(const ClientConfig&) const = default;
};

// Per-client token buckets on input; a rate of 0 turns that bucket off.
struct FloodConfig {
    double lines_per_second = 0;
    double lines_burst = 100;
    double bytes_per_second = 0;
    double bytes_burst = 256 * 1024;
    double disconnect_after = 0;  // 0: throttle only, never disconnect
    bool operator==(const FloodConfig&) const = default;
};

// The book's exercises, all off so that the protocol is the seed's.
struct RoomConfig {
    bool names = false;
    bool roster = false;
    bool commands = false;
    size_t history = 0;                 // lines said that a newcomer receives; 0: none
    size_t history_bytes = 1 << 20;     // and at most this many bytes of them
    Presence presence = Presence::each;
    double presence_interval = 2.0;     // "summary": at most one summary line this often
    bool operator==(const RoomConfig&) const = default;
};

// Absent (redis empty) means a single node.
struct ClusterConfig {
    std::string redis;               // "HOST:PORT"
    std::string stream = "evchat:room";
    size_t maxlen = 100000;          // XADD MAXLEN ~, in entries
    std::string node;                // empty: made up from the host name and process id
    double timeout = 5.0;            // a Redis link silent (or an XADD unanswered) this long is lost
    double lease = 30.0;             // a node not heard of for this long is taken for dead
    bool enabled() const { return !redis.empty(); }
    bool operator==(const ClusterConfig&) const = default;
};

// Browsers in the room: the chat page and its WebSocket, off while listen is empty.
struct WebSocketConfig {
    std::vector<std::string> listen;
    std::vector<std::string> origins;  // empty: the page's own origin only; "*": any
    double timeout = 5.0;              // the time a connection has to send its request
    bool tls = false;                  // https and wss, with [tls]'s certificate
    bool operator==(const WebSocketConfig&) const = default;
};

enum class TlsVersion { v1_2, v1_3 };

// The line protocol over TLS, and the certificate of every TLS listener.
struct TlsConfig {
    std::vector<std::string> listen;
    std::string cert;  // PEM: the certificate, then its chain
    std::string key;   // PEM
    TlsVersion min_version = TlsVersion::v1_2;
    std::string ciphers;       // TLS 1.2, OpenSSL's syntax; empty: its default
    std::string ciphersuites;  // TLS 1.3 likewise
    double handshake_timeout = 10.0;
    // Whether any listener speaks TLS.
    bool used(const WebSocketConfig& ws) const { return !listen.empty() || (ws.tls && !ws.listen.empty()); }
    bool operator==(const TlsConfig&) const = default;
};

// Load balancers in front: connections from trusted addresses begin with a PROXY header,
// and their X-Forwarded-For / Forwarded fields are believed.
struct ProxyConfig {
    std::vector<std::string> trusted;  // CIDR ranges
    double timeout = 5.0;              // the time a trusted connection has to send its header
    bool operator==(const ProxyConfig&) const = default;
};

// Who may connect, and how often.
struct AccessConfig {
    std::vector<std::string> allow;  // CIDR ranges; empty: everyone
    std::vector<std::string> deny;   // CIDR ranges; deny wins
    bool apply_to_connected = false;  // a reload also puts out connected clients refused now
    double connect_rate = 0;          // connections per second per address; 0: no limit
    double connect_burst = 10;
    bool operator==(const AccessConfig&) const = default;
};

// The operators' HTTP listener (/metrics, /healthz), off while listen is empty.
struct AdminConfig {
    std::string listen;
    double timeout = 5.0;  // an admin connection's whole life, accept to close
    size_t max_connections = 16;
    bool operator==(const AdminConfig&) const = default;
};

struct LogConfig {
    LogLevel level = LogLevel::info;
    LogFormat format = LogFormat::text;
    double summary_interval = 0;  // 0: no periodic summary line
    bool operator==(const LogConfig&) const = default;
};

struct Config {
    ServerConfig server;
    ClientConfig client;
    FloodConfig flood;
    RoomConfig room;
    ClusterConfig cluster;
    WebSocketConfig websocket;
    TlsConfig tls;
    ProxyConfig proxy;
    AccessConfig access;
    AdminConfig admin;
    LogConfig log;
    bool operator==(const Config&) const = default;
};

// Parses TOML text named source (for messages) into out, starting from defaults.
// Returns "" or the first error as "source:line:col: message".
std::string parse_config(std::string_view text, const std::string& source, Config& out);

// Reads and parses a file; errors as parse_config, or "path: reason" if unreadable.
std::string load_config(const std::string& path, Config& out);

// The keys that next changes from running but that apply only at start, as
// "[section] key, ..."; "" if a reload may apply next.
std::string restart_only_changes(const Config& running, const Config& next);

// The text of conf/evchat.toml, built into the binary for --print-default-config.
std::string_view default_config_text();

const char* slow_policy_name(SlowPolicy policy);
