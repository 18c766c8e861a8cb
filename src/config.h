// Config: every setting of conf/evchat.toml with its default, loaded and validated here.
// Pure (no sockets); main owns the Config and the server reads it.
#pragma once

#include "log.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

enum class SlowPolicy { disconnect, drop };

struct Config {
    // [server]
    std::vector<std::string> listen{"localhost:8000"};
    int backlog = 511;
    double shutdown_grace = 5.0;
    size_t max_clients = 10000;
    size_t max_clients_per_ip = 0;  // 0: no limit
    bool reuse_port = false;
    // [client]
    size_t max_line_bytes = 65536;
    size_t output_soft_limit = 1 << 20;
    double output_soft_seconds = 60.0;
    size_t output_hard_limit = 8 << 20;
    SlowPolicy slow_policy = SlowPolicy::disconnect;
    double drain_timeout = 5.0;
    double idle_timeout = 300.0;  // 0: never
    // [flood]: per-client token buckets on input; a rate of 0 turns that bucket off.
    double flood_lines_per_second = 0;
    double flood_lines_burst = 100;
    double flood_bytes_per_second = 0;
    double flood_bytes_burst = 256 * 1024;
    double flood_disconnect_after = 0;  // 0: throttle only, never disconnect
    // [room]: the book's exercises, all off so that the protocol is the seed's.
    bool names = false;
    bool roster = false;
    bool commands = false;
    // [cluster]: absent (redis empty) means a single node.
    std::string cluster_redis;
    std::string cluster_stream = "evchat:room";
    size_t cluster_maxlen = 100000;
    std::string cluster_node;  // empty: made up from the host name and process id
    double cluster_timeout = 5.0;  // a Redis link silent for this long is taken for lost
    double cluster_lease = 30.0;   // a node not heard of for this long is taken for dead
    // [admin]: the operators' HTTP listener (/metrics, /healthz), off while listen is empty.
    std::string admin_listen;
    double admin_timeout = 5.0;  // an admin connection's whole life, accept to close
    size_t admin_max_connections = 16;
    // [log]
    LogLevel log_level = LogLevel::info;
    LogFormat log_format = LogFormat::text;
    double summary_interval = 0;  // 0: no periodic summary line
};

// Parses TOML text named source (for messages) into out, starting from defaults.
// Returns "" or the first error as "source:line:col: message".
std::string parse_config(std::string_view text, const std::string& source, Config& out);

// Reads and parses a file; errors as parse_config, or "path: reason" if unreadable.
std::string load_config(const std::string& path, Config& out);

// The text of conf/evchat.toml, built into the binary for --print-default-config.
std::string_view default_config_text();

const char* slow_policy_name(SlowPolicy policy);
