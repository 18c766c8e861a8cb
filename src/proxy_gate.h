// Proxy gate: connections from trusted load balancers ([proxy] trusted), each held until
// its PROXY header names the client it forwards, then passed on as that client. Owned by
// a listener's owner (the server for chat, the web listener for WebSocket); each held
// connection is owned here until passed on or closed.
#pragma once

#include "config.h"
#include "connection.h"
#include "held.h"
#include "ip_range.h"
#include "log.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

class ProxyGate {
public:
    // A connection let through: its socket, the client's ADDR, and what followed the header.
    using Pass = std::function<void(Socket socket, std::string addr, std::string rest)>;

    // Whether a trusted connection must begin with a header (chat), or may begin with
    // its own bytes (HTTP: a proxy in HTTP mode names the client in its request instead).
    enum class Header { required, optional };

    // rejected counts the connections closed for a missing, malformed or late header.
    ProxyGate(Io& io, Header header, uint64_t& rejected, Pass pass);
    ~ProxyGate();
    ProxyGate(const ProxyGate&) = delete;
    ProxyGate& operator=(const ProxyGate&) = delete;

    // From now on; the ranges were validated with the config.
    void configure(const ProxyConfig& config);
    const IpRanges& trusted() const { return trusted_; }
    // A new connection from peer: true if it comes from a trusted balancer and waits here
    // for its header; false if it is a plain client, whose first bytes are its own.
    bool hold(int fd, const sockaddr* peer);

private:
    class Arrival;

    void reject(Arrival& a, const char* why);

    Io& io_;
    Header header_;
    uint64_t& rejected_;
    Pass pass_;
    IpRanges trusted_;
    double timeout_ = 5.0;
    LogThrottle rejections_logged_;
    Held<Arrival> waiting_;
};
