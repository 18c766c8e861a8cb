// Cluster: a node's membership of a room shared by several evchat nodes through one Redis
// — the link to Redis, the stream relay of the room's events, and names under the lease.
// Owned by the server; runs on its loop (hiredis).
#pragma once

#include "broadcaster.h"
#include "cluster_names.h"
#include "config.h"
#include "log.h"
#include "redis_link.h"
#include "stream_relay.h"

#include <ev.h>
#include <functional>
#include <string>

class Cluster final : private RedisLink::Handler, private StreamRelay::Events {
public:
    // on_change runs whenever readable() may have changed; on_fenced when the other nodes
    // took this one for dead (it must stop).
    Cluster(struct ev_loop* loop, const ClusterConfig& config, Log& log, Broadcaster& room,
            std::function<void()> on_change, std::function<void()> on_fenced);
    Cluster(const Cluster&) = delete;
    Cluster& operator=(const Cluster&) = delete;

    void start();
    bool up() const { return link_.up(); }
    // Clients' input may be read: the link is up and not too much waits for Redis.
    bool readable() const { return relay_.readable(); }
    // Sends what the room said in this loop iteration as one entry, then the names given back.
    void flush();
    // Everything published, every claim and every release has been answered by Redis.
    bool settled() const { return relay_.settled() && names_.settled(); }

    Relay& relay() { return relay_; }
    NameRegistry& names() { return names_; }

private:
    void link_connected() override;
    void link_lost() override;
    std::string link_watch(double now) override;
    void relay_up() override;
    void readable_changed() override;
    void buried() override;

    ClusterConfig config_;  // with the node's name made up if the config had none
    std::string origin_;    // node name and incarnation: unique to this process
    Log& log_;
    std::function<void()> on_change_;
    RedisLink link_;
    StreamRelay relay_;
    ClusterNames names_;
};
