// Stream relay: the room's events through one Redis stream, so that several evchat nodes
// share one room in one global order. Owned by the cluster; runs on its Redis link.
#pragma once

#include "broadcaster.h"
#include "config.h"
#include "history_recall.h"
#include "log.h"
#include "redis_link.h"
#include "stream_ledger.h"

#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

// The stream is the room's global order. Each loop iteration's events of this node go out
// as one stream entry (a batch: one XADD, pipelined), and every node applies every entry,
// its own included, in stream order as XREAD brings them in. An arrival admits its member
// only when it comes back, so a newcomer hears exactly what follows it in the order.
//
// While Redis keeps its data nothing accepted is lost across a lost link: batches stay in
// flight until Redis has acknowledged them and are sent again after a reconnect; each
// carries this process's origin and the sequence number of its first event, so a batch
// that had landed is applied once, and a gap in an origin's numbers is noticed. Input is
// paused while the link is down or too much waits for Redis.
//
// With [room] history, a node reads the stream backwards once, from where it joined it,
// before it applies anything: its history then starts with what the room said before,
// and from there on every node keeps the same history, by applying the same entries.
class StreamRelay final : public Relay {
public:
    // What the relay tells the cluster.
    class Events {
    public:
        // The link is up and reading resumes: the lease tick must vet the node first.
        virtual void relay_up() = 0;
        // readable() changed.
        virtual void readable_changed() = 0;
        // The stream says the other nodes took this one for dead.
        virtual void buried() = 0;

    protected:
        ~Events() = default;
    };

    StreamRelay(RedisLink& link, Log& log, Broadcaster& room, const ClusterConfig& config, const std::string& origin,
                Events& events);

    void publish(const RoomEvent& e, Member* arriving) override;
    void forget(Member& m) override;

    // The link's connections are made: loads where the stream stands and the room's
    // members as of that point (snapshot.lua), then marks the link up and reads on; the
    // roster takes what the entries up to that point change as already counted.
    void resume_reading();
    void link_lost();
    // A reason to take the link for lost: the oldest XADD unanswered too long.
    std::string stalled(double now) const;
    // The first lease tick after a connect says this node was not swept: what waited in
    // flight goes out again, then the rest.
    void vet();
    bool vetted() const { return vetted_; }
    bool sending() const { return link_.up() && vetted_; }
    // Clients' input may be read: the link is up and not too much waits for Redis.
    bool readable() const { return link_.up() && !backlogged_; }
    // Sends what was published since the last call as one entry.
    void flush();
    bool settled() const { return outbox_.empty() && inflight_.empty(); }
    // This node's members as Redis will have them once it has run every batch sent so far;
    // only once vetted (before, a batch in flight may or may not have run).
    std::set<std::string> members_in_redis() const;

private:
    // Events of one loop iteration, on their way to the stream.
    struct Batch {
        uint64_t first_seq;            // sequence number of its first event
        std::string events;            // append_event() encoding
        std::vector<std::string> ops;  // "+NAME" arrived, "-NAME" left: this node's member set
        double sent_at = 0;
    };

    static void on_snapshot(redisAsyncContext* c, void* reply, void* privdata);
    void load_roster(const redisReply* snapshot);
    void take_census(const std::string& origin, std::string_view events);
    static void on_added(redisAsyncContext* c, void* reply, void* privdata);
    static void on_read(redisAsyncContext* c, void* reply, void* privdata);
    static void on_recalled(redisAsyncContext* c, void* reply, void* privdata);
    void start_recall();
    void read_back(const std::string& end);
    void finish_recall();
    void resume(const StreamLedger::StreamState& state);
    void send(Batch& b);
    uint64_t add(const RoomEvent& e);
    void check_backlog();
    void read_next();
    void deliver(const redisReply* entries);
    void readmit(uint64_t below);
    uint64_t first_unacknowledged() const;
    std::string members_key() const { return config_.stream + ":members:" + origin_; }

    RedisLink& link_;
    Log& log_;
    Broadcaster& room_;
    const ClusterConfig& config_;
    const std::string& origin_;
    Events& events_;
    bool vetted_ = false;  // up, and the first lease tick said this node was not swept
    bool backlogged_ = false;
    bool foreign_logged_ = false;

    StreamLedger ledger_;
    std::pair<uint64_t, uint64_t> counted_until_{};  // the roster holds what entries up to here change
    uint64_t next_seq_ = 1;
    std::string outbox_;                   // published, not sent: the next batch's events
    uint64_t outbox_seq_ = 0;              // its first event's sequence number
    std::vector<std::string> outbox_ops_;  // its changes to this node's member set (members.lua)
    std::deque<Batch> inflight_;           // sent, not acknowledged: sent again after a reconnect
    size_t inflight_bytes_ = 0;
    std::unordered_map<uint64_t, Member*> arriving_;  // by event seq: admitted when it comes back

    bool recalled_ = false;                 // the history has what was said before this node joined
    std::unique_ptr<HistoryRecall> recall_;  // while the stream is read back for it
    size_t recall_pages_ = 0;               // XREVRANGEs sent for it
};
