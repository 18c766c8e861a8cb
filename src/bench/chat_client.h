// Chat client: a Peer speaking the chat protocol of the Go book's server (and evchat):
// "You are ADDR" on joining, then "ADDR: text", "ADDR has arrived", "ADDR has left".
#pragma once

#include "bench/peer.h"

#include <ev.h>
#include <memory>

namespace bench {

std::unique_ptr<Peer> make_chat_peer(struct ev_loop* loop, PeerEvents& events, int index);

}  // namespace bench
