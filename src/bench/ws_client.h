// WebSocket chat client: a chat Peer whose lines travel as WebSocket text messages, as a
// browser's would (evchat's [websocket] listener, the Go hub of scripts/peers/gohub).
// Each is owned by the Session that makes it, and reads into the Session's ConnReads.
#pragma once

#include "bench/conn.h"
#include "bench/peer.h"

#include <ev.h>
#include <memory>

namespace bench {

// The upgrade (GET /ws, HTTP/1.1, Host and a matching Origin, version 13, a random key;
// the answer must be 101 with the key's accept value), then each line said as one masked
// text frame without its "\n", and each text message heard as one line. Pings are
// answered; a close ends the connection. reads and events must outlive the peer.
std::unique_ptr<Peer> make_websocket_peer(struct ev_loop* loop, ConnReads& reads, PeerEvents& events,
                                          int index);

}  // namespace bench
