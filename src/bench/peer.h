// Peer: one participant of the room, whatever the server under test speaks, and the target.
// Peers are owned by the Session, which hears them through PeerEvents; main owns the Target.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <vector>

class TlsClient;

namespace bench {

enum class Protocol { chat, redis };
enum class Presence { arrived, left };

// One address of the server under test.
struct Endpoint {
    sockaddr_storage addr{};
    socklen_t len = 0;
};

// The server under test: one process, or the nodes of a cluster and the Redis behind them.
struct Target {
    Protocol protocol = Protocol::chat;
    bool websocket = false;       // chat over WebSocket (GET /ws), one text message per line
    const TlsClient* tls = nullptr;  // every connection over TLS with these settings (main's)
    std::vector<Endpoint> nodes;  // at least one; peers are spread over them in turn
    std::vector<int> pids;        // every process that serves the room; empty: no CPU or memory figures
    const Endpoint& node_for(int index) const { return nodes[static_cast<size_t>(index) % nodes.size()]; }
};

class Peer;

// What peers report to their owner (the session).
class PeerEvents {
public:
    // In the room: "You are ADDR" (chat) or the SUBSCRIBE confirmation (Redis).
    virtual void joined(Peer& p) = 0;
    // A line said in the room: from is the sender's ADDR (chat) or "" (Redis, which
    // does not say who published). now: when it was read.
    virtual void heard(Peer& p, std::string_view from, std::string_view payload, uint64_t now) = 0;
    // "ADDR has arrived" / "ADDR has left" (chat only).
    virtual void presence(Peer& p, Presence kind, std::string_view addr) = 0;
    // Something no rule of the protocol explains.
    virtual void garbled(Peer& p, std::string_view what) = 0;
    // The connection ended without the peer closing it.
    virtual void closed(Peer& p, const char* why) = 0;

protected:
    ~PeerEvents() = default;
};

// A chat peer is one connection; a Redis peer is a subscriber plus, if it speaks, a
// publisher. The scenarios see only this interface, so every scenario runs against both.
class Peer {
public:
    explicit Peer(int index) : index(index) {}
    virtual ~Peer() = default;
    Peer(const Peer&) = delete;
    Peer& operator=(const Peer&) = delete;

    // Connects and joins; false (errno set) if no connection could even be started.
    virtual bool start(const Target& t, int rcvbuf) = 0;
    // Queues a line for the room; flush() writes what is queued.
    virtual void say(std::string_view payload) = 0;
    virtual void flush() = 0;
    // Bytes queued but not yet taken by the socket.
    virtual size_t unsent() const = 0;
    virtual void set_reading(bool on) = 0;
    // Leaves; reset closes with an RST instead of a FIN.
    virtual void close(bool reset) = 0;

    // The ADDR the room knows this peer by ("" for Redis).
    const std::string& name() const { return name_; }
    const int index;

protected:
    std::string name_;
};

}  // namespace bench
