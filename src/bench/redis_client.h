// Redis client: a Peer over Redis pub/sub, spoken in RESP by hand.
// Each is owned by the Session that makes it, and reads into the Session's ConnReads.
#pragma once

#include "bench/conn.h"
#include "bench/peer.h"

#include <ev.h>
#include <memory>

namespace bench {

// The room is one channel; a peer hears it on a SUBSCRIBEd connection and, if it
// speaks, PUBLISHes on a second one (a subscribed connection may not publish).
// speaker: the peer will say lines, so it opens the publisher connection too. reads and
// events must outlive the peer.
std::unique_ptr<Peer> make_redis_peer(struct ev_loop* loop, ConnReads& reads, PeerEvents& events,
                                      int index, bool speaker);

}  // namespace bench
