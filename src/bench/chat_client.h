// Chat client: a Peer speaking the chat protocol of the Go book's server (and evchat),
// over TCP (each line ends in "\n") or WebSocket (each line is one text message).
// Each is owned by the Session that makes it, and reads into the Session's ConnReads.
#pragma once

#include "bench/conn.h"
#include "bench/peer.h"

#include <ev.h>
#include <memory>
#include <string_view>

namespace bench {

// What a chat peer is whatever carries its lines: one connection, and the protocol's
// rules for what the server says. A transport frames the bytes it reads into lines and
// hands each to hear(); it writes each line say() is given in its own framing.
class ChatPeerBase : public Peer, protected Conn::Handler {
public:
    bool start(const Target& t, int rcvbuf) override;
    void flush() override { conn_.flush(); }
    size_t unsent() const override { return conn_.unsent(); }
    void set_reading(bool on) override { conn_.set_reading(on); }
    void close(bool reset) override { conn_.close(reset); }

protected:
    // reads and events must outlive the peer.
    ChatPeerBase(struct ev_loop* loop, ConnReads& reads, PeerEvents& events, int index);

    void closed(Conn&, const char* why) override { events_.closed(*this, why); }
    // One line the server said, without its framing, read at now: "You are ADDR" on
    // joining, then "ADDR: text", "ADDR has arrived", "ADDR has left".
    void hear(std::string_view line, uint64_t now);

    PeerEvents& events_;
    Conn conn_;
};

// Over TCP.
std::unique_ptr<Peer> make_chat_peer(struct ev_loop* loop, ConnReads& reads, PeerEvents& events,
                                     int index);

}  // namespace bench
