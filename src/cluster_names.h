// Cluster names: names unique across the nodes ([room] names), each a Redis key this node
// holds while one of its members has the name, under this node's lease; and the lease
// tick that renews them, the node's liveness and its member set, and sweeps the nodes
// that died. Owned by the cluster; runs on its Redis link.
#pragma once

#include "config.h"
#include "log.h"
#include "name_registry.h"
#include "redis_link.h"
#include "stream_relay.h"

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>

// A node that dies says no leaves, so each node keeps a lease in Redis and its members
// there (changed with the entries that change them); a node whose lease ran out is swept
// by the first survivor to notice, which puts the leaves of its members in the stream
// for it, after which no node applies anything more of it, and frees its names. A swept
// node that comes back stops (on_fenced).
class ClusterNames final : public NameRegistry {
public:
    ClusterNames(RedisLink& link, Log& log, StreamRelay& relay, const ClusterConfig& config,
                 const std::string& origin, std::function<void()> on_fenced);

    // A claim is answered when Redis answers (when it is away, once it is back). A
    // release goes out after the loop iteration's events (send_releases()), so that the
    // stream has the holder's leave before anyone else can take the name.
    uint64_t claim(Claimant& who, const std::string& name) override;
    void cancel(uint64_t claim) override;
    void release(uint64_t claim) override;
    void send_releases();

    // The lease tick: one command every third of the lease, whatever the number of names
    // and members; the first after each connect vets the node before it sends anything.
    void tick();
    bool tick_due(double now) const { return now - ticked_at_ >= config_.lease / 3; }
    void link_lost();
    // The other nodes took this one for dead: it must stop.
    void fence();
    // Every claim and release has been answered by Redis.
    bool settled() const
    {
        return claims_waiting_.empty() && claims_inflight_.empty() && releases_waiting_.empty() &&
               releases_inflight_.empty();
    }

private:
    // A name asked for, or given back, under a claim id. Each kind waits while the link is
    // down and is in flight until answered (answers come in order); a lost link sends what
    // was in flight again, first.
    struct Claim {
        uint64_t id;
        std::string name;
    };

    static void on_claim(redisAsyncContext* c, void* reply, void* privdata);
    static void on_released(redisAsyncContext* c, void* reply, void* privdata);
    static void on_ticked(redisAsyncContext* c, void* reply, void* privdata);
    void send_claims();
    void send(std::deque<Claim>& waiting, std::deque<Claim>& inflight, const std::string& script,
              RedisCallback answered);
    void swept(const char* origin, long long members);
    std::string name_key(const std::string& name) const { return config_.stream + ":name:" + name; }
    // A claim's value in its key: this process's, and this claim's alone, so that a claim
    // sent again after its answer was lost finds itself, not a rival.
    std::string holder(uint64_t id) const { return origin_ + "/" + std::to_string(id); }

    RedisLink& link_;
    Log& log_;
    StreamRelay& relay_;
    const ClusterConfig& config_;
    const std::string& origin_;
    std::function<void()> on_fenced_;
    std::string lease_ms_;  // the lease, as Redis's PX wants it
    bool fenced_ = false;
    double ticked_at_ = 0;
    uint64_t next_claim_ = 1;
    std::unordered_map<uint64_t, Claimant*> claimants_;  // unanswered claims, by id; a cancelled one is gone
    std::deque<Claim> claims_waiting_;
    std::deque<Claim> claims_inflight_;
    std::deque<Claim> releases_waiting_;
    std::deque<Claim> releases_inflight_;
    std::unordered_map<uint64_t, std::string> held_;  // names held for this node's members, by claim id
};
