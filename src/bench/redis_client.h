// Redis client: a Peer over Redis pub/sub, spoken in RESP by hand. The room is one
// channel; a peer hears it on a SUBSCRIBEd connection and, if it speaks, PUBLISHes on a
// second one (a subscribed connection may not publish).
#pragma once

#include "bench/peer.h"

#include <ev.h>
#include <memory>

namespace bench {

// speaker: the peer will say lines, so it opens the publisher connection too.
std::unique_ptr<Peer> make_redis_peer(struct ev_loop* loop, PeerEvents& events, int index,
                                      bool speaker);

}  // namespace bench
