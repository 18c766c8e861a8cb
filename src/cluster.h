// Cluster link: the room's events through one Redis stream, so that several evchat nodes
// share one room in one global order. Owned by the server; runs on its loop (hiredis).
#pragma once

#include "broadcaster.h"
#include "log.h"
#include "stream_ledger.h"

#include <cstdint>
#include <deque>
#include <ev.h>
#include <functional>
#include <set>
#include <string>
#include <unordered_map>
#include <string_view>
#include <vector>

struct redisAsyncContext;
struct redisReply;

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
// A node that dies says no leaves, so each node keeps a lease in Redis and its members
// there (changed with the entries that change them); a node whose lease ran out is swept
// by the first survivor to notice, which puts the leaves of its members in the stream
// for it, after which no node applies anything more of it, and a swept node that comes
// back stops (on_fenced).
class Cluster : public Relay {
public:
    struct Settings {
        std::string redis;   // "HOST:PORT"
        std::string stream;  // the stream key
        size_t maxlen;       // XADD MAXLEN ~, in entries
        std::string node;    // this node's name (logs, and the origin of its entries)
        double timeout;      // a link silent, or an XADD unanswered, this long is taken for lost
        double lease;        // a node that has not renewed its lease this long is taken for dead
    };

    // on_change runs whenever readable() may have changed; on_claimed answers claim();
    // on_fenced runs when the other nodes took this one for dead (it must stop).
    using Claimed = std::function<void(uint64_t id, const std::string& name, bool ok)>;
    Cluster(struct ev_loop* loop, Settings settings, Log& log, Broadcaster& room, std::function<void()> on_change,
            Claimed on_claimed, std::function<void()> on_fenced);
    ~Cluster() override;
    Cluster(const Cluster&) = delete;
    Cluster& operator=(const Cluster&) = delete;

    void start();
    bool up() const { return up_; }
    // Clients' input may be read: the link is up and not too much waits for Redis.
    bool readable() const { return up_ && !backlogged_; }
    // Sends what was published since the last call as one entry.
    void flush();
    // Everything published, every claim and every release has been answered by Redis.
    bool settled() const
    {
        return outbox_.empty() && inflight_.empty() && claims_waiting_.empty() && claims_inflight_.empty() &&
               releases_waiting_.empty() && releases_inflight_.empty();
    }

    void publish(const RoomEvent& e, Member* arriving) override;
    void forget(Member& m) override;

    // Names ([room] names) are unique across the nodes: each is a Redis key that this node
    // holds while one of its members has the name, under the lease it renews, so that the
    // names of a node that dies are free again once it is swept (or its lease runs out). claim() is answered
    // through on_claimed, later (when Redis is away, once it is back), unless cancelled
    // first: then a name it got is given back unasked. release() gives back the name that
    // claim id got; it goes out after the loop iteration's events, so that the stream has
    // the holder's leave before anyone else can take the name.
    void claim(uint64_t id, const std::string& name);
    void cancel(uint64_t id);
    void release(uint64_t id);

private:
    // Events of one loop iteration, on their way to the stream.
    struct Batch {
        uint64_t first_seq;             // sequence number of its first event
        std::string events;             // append_event() encoding
        std::vector<std::string> ops;   // "+NAME" arrived, "-NAME" left: this node's member set
        double sent_at = 0;
    };

    static Cluster* answered(redisAsyncContext* c, void* reply, const char* command);
    static void on_connect(const redisAsyncContext* c, int status);
    static void on_disconnect(const redisAsyncContext* c, int status);
    static void on_info(redisAsyncContext* c, void* reply, void* privdata);
    static void on_added(redisAsyncContext* c, void* reply, void* privdata);
    static void on_claim(redisAsyncContext* c, void* reply, void* privdata);
    static void on_released(redisAsyncContext* c, void* reply, void* privdata);
    static void on_ticked(redisAsyncContext* c, void* reply, void* privdata);
    static void on_read(redisAsyncContext* c, void* reply, void* privdata);
    static void on_retry(struct ev_loop* loop, ev_timer* w, int revents);
    static void on_watchdog(struct ev_loop* loop, ev_timer* w, int revents);

    void connect();
    void resume(const StreamLedger::StreamState& state);
    void proven();
    void lost(const char* why);
    void send(Batch& b);
    void read_next();
    void deliver(const redisReply* entries);
    void readmit(uint64_t below);
    void check_backlog();
    struct Claim;
    void send_names(std::deque<Claim>& waiting, std::deque<Claim>& inflight, const char* script,
                    void (*answered)(redisAsyncContext*, void*, void*));
    void send_claims();
    void send_releases();
    uint64_t add(const RoomEvent& e);
    void tick();
    std::set<std::string> members_in_redis() const;
    bool sending() const { return up_ && vetted_; }
    void swept(const char* origin, long long members);
    void fence();
    std::string name_key(const std::string& name) const { return settings_.stream + ":name:" + name; }
    std::string members_key(const std::string& origin) const { return settings_.stream + ":members:" + origin; }
    // A claim's value in its key: this process's, and this claim's alone, so that a claim
    // sent again after its answer was lost finds itself, not a rival.
    std::string holder(uint64_t id) const { return origin_ + "/" + std::to_string(id); }
    uint64_t first_unacknowledged() const;
    void heard() { last_heard_ = ev_now(loop_); }

    struct ev_loop* loop_;
    Settings settings_;
    std::string origin_;  // node name and incarnation: unique to this process
    std::string lease_ms_;  // settings_.lease, as Redis's PX wants it
    Log& log_;
    Broadcaster& room_;
    std::function<void()> on_change_;
    Claimed on_claimed_;
    std::function<void()> on_fenced_;
    std::string host_;
    int port_ = 0;

    redisAsyncContext* writer_ = nullptr;  // XADDs, pipelined
    redisAsyncContext* reader_ = nullptr;  // one XREAD BLOCK at a time
    int connected_ = 0;                    // of the two contexts
    bool up_ = false;
    bool vetted_ = false;  // up, and the first lease tick said this node was not swept
    bool fenced_ = false;
    bool proven_ = false;         // up and shown to work: only then does the backoff reset
    bool outage_logged_ = false;  // one warning per outage, not one per retry
    bool backlogged_ = false;
    bool foreign_logged_ = false;
    ev_timer retry_;
    ev_timer watchdog_;
    double backoff_ = 0;
    double last_heard_ = 0;  // the last reply from Redis, or the start of connecting
    double up_since_ = 0;

    StreamLedger ledger_;
    uint64_t next_seq_ = 1;
    std::string outbox_;           // published, not sent: the next batch's events
    uint64_t outbox_seq_ = 0;      // its first event's sequence number
    std::vector<std::string> outbox_ops_;  // its changes to this node's member set
    std::deque<Batch> inflight_;   // sent, not acknowledged: sent again after a reconnect
    size_t inflight_bytes_ = 0;
    std::unordered_map<uint64_t, Member*> arriving_;  // by event seq: admitted when it comes back

    // A name asked for, or given back, under a claim id. Each kind waits while the link is
    // down and is in flight until answered (answers come in order); a lost link sends what
    // was in flight again, first.
    struct Claim {
        uint64_t id;
        std::string name;
        bool cancelled = false;  // its asker is gone
    };
    std::deque<Claim> claims_waiting_;
    std::deque<Claim> claims_inflight_;
    std::deque<Claim> releases_waiting_;
    std::deque<Claim> releases_inflight_;
    std::unordered_map<uint64_t, std::string> held_;  // names held for this node's members, by claim id
    double ticked_at_ = 0;

};
