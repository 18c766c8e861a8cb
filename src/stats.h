// Stats: the server's counters, plain integers bumped by the loop's objects and formatted
// only when scraped. Owned by the server.
#pragma once

#include <cstddef>
#include <cstdint>

// Why a client left the room: each is a label of evchat_leaves_total.
enum class LeaveReason {
    eof,
    reset,
    idle,
    slow_consumer,
    line_too_long,
    flood,
    quit,
    write_error,
    protocol_error,
    access,        // put out by a reload's access lists
    input_memory,  // put out for [server] max_input_memory
    count
};

const char* leave_reason_name(LeaveReason reason);

// How a chat client speaks: each is a label of the metrics that tell them apart.
enum class Transport { tcp, websocket, tls, wss, count };

const char* transport_name(Transport t);

// TLS handshakes by how they ended.
struct TlsHandshakes {
    uint64_t ok = 0;
    uint64_t failed = 0;   // not TLS, an old version, a bad message, a reset
    uint64_t timeout = 0;  // not done within [tls] handshake_timeout
    uint64_t closed = 0;   // the peer closed before it was done
    uint64_t refused = 0;  // over the cap of connections held at once
};

struct Stats {
    uint64_t accepted[static_cast<size_t>(Transport::count)] = {};
    uint64_t refused_full = 0;
    uint64_t refused_per_ip = 0;
    uint64_t refused_access = 0;  // the access lists
    uint64_t refused_rate = 0;    // the connect rate
    uint64_t refused_proxy = 0;   // a trusted proxy's header missing, malformed or late
    uint64_t input_held = 0;      // a gauge: bytes of unfinished lines held, all sessions
    uint64_t leaves[static_cast<size_t>(LeaveReason::count)] = {};
    uint64_t lines_received = 0;  // framed from this node's clients: names and commands too
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;
    uint64_t lines_dropped = 0;
    uint64_t loop_iterations = 0;
    uint64_t reloads_ok = 0;
    uint64_t reloads_failed = 0;
    TlsHandshakes tls_handshakes;
    double tls_cert_not_after = 0;  // Unix time; 0: no certificate loaded
    double loop_busy_max = 0;       // the longest a loop iteration ran, wake to sleep, seconds

    void count_leave(LeaveReason reason) { leaves[static_cast<size_t>(reason)]++; }
    void count_accepted(Transport t) { accepted[static_cast<size_t>(t)]++; }
};
