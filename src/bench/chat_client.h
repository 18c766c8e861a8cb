// Chat client: a Peer speaking the chat protocol of the Go book's server (and evchat).
// Each is owned by the Session that makes it, and reads into the Session's ConnReads.
#pragma once

#include "bench/conn.h"
#include "bench/peer.h"

#include <ev.h>
#include <memory>

namespace bench {

// The protocol: "You are ADDR" on joining, then "ADDR: text", "ADDR has arrived",
// "ADDR has left". reads and events must outlive the peer.
std::unique_ptr<Peer> make_chat_peer(struct ev_loop* loop, ConnReads& reads, PeerEvents& events,
                                     int index);

}  // namespace bench
