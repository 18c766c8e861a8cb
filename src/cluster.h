// Cluster link: the room's events through one Redis stream, so that several evchat nodes
// share one room in one global order. Owned by the server; runs on its loop (hiredis).
#pragma once

#include "broadcaster.h"
#include "log.h"

#include <cstdint>
#include <deque>
#include <ev.h>
#include <functional>
#include <string>
#include <unordered_map>

struct redisAsyncContext;

// The stream is the room's global order. Each loop iteration's events of this node go out
// as one stream entry (a batch: one XADD, pipelined), and every node applies every entry,
// its own included, in stream order as one XREAD brings them in. An arrival admits its
// member only when it comes back, so a newcomer hears exactly what follows it in the order.
//
// Nothing accepted is lost across a lost link: batches stay in flight until Redis has
// acknowledged them and are sent again after a reconnect; each carries this process's
// origin and a sequence number, so a batch that had landed before the link broke is
// applied once. Reading resumes after the last entry applied.
class Cluster : public Relay {
public:
    struct Settings {
        std::string redis;   // "HOST:PORT"
        std::string stream;  // the stream key
        size_t maxlen;       // XADD MAXLEN ~, in entries
        std::string node;    // this node's name (logs, and the origin of its entries)
        double timeout;      // a link silent for this long is taken for lost
    };

    // on_link(up) runs whenever the link comes up or goes down.
    Cluster(struct ev_loop* loop, Settings settings, Log& log, Broadcaster& room,
            std::function<void(bool up)> on_link);
    ~Cluster() override;
    Cluster(const Cluster&) = delete;
    Cluster& operator=(const Cluster&) = delete;

    void start();
    bool up() const { return up_; }
    // Sends what was published since the last call as one entry.
    void flush();
    // Everything published has been acknowledged by Redis.
    bool settled() const { return outbox_.empty() && inflight_.empty(); }

    void publish(const RoomEvent& e, Member* arriving) override;
    void forget(Member& m) override;

private:
    // Events of one loop iteration, on their way to the stream.
    struct Batch {
        uint64_t first_seq;  // sequence number of its first event
        std::string events;  // append_event() encoding
    };

    static Cluster* answered(redisAsyncContext* c, void* reply, const char* command);
    static void on_connect(const redisAsyncContext* c, int status);
    static void on_disconnect(const redisAsyncContext* c, int status);
    static void on_info(redisAsyncContext* c, void* reply, void* privdata);
    static void on_added(redisAsyncContext* c, void* reply, void* privdata);
    static void on_read(redisAsyncContext* c, void* reply, void* privdata);
    static void on_retry(struct ev_loop* loop, ev_timer* w, int revents);
    static void on_watchdog(struct ev_loop* loop, ev_timer* w, int revents);

    void connect();
    void resume(const char* last_generated, const char* max_deleted, const char* first_entry);
    void lost(const char* why);
    void send(const Batch& b);
    void read_next();
    void deliver(const struct redisReply* entries);
    void heard() { last_heard_ = ev_now(loop_); }

    struct ev_loop* loop_;
    Settings settings_;
    std::string origin_;  // node name and incarnation: unique to this process
    Log& log_;
    Broadcaster& room_;
    std::function<void(bool)> on_link_;
    std::string host_;
    int port_ = 0;

    redisAsyncContext* writer_ = nullptr;  // XADDs, pipelined
    redisAsyncContext* reader_ = nullptr;  // one XREAD BLOCK at a time
    int connected_ = 0;                    // of the two contexts
    bool up_ = false;
    bool outage_logged_ = false;  // one warning per outage, not one per retry
    ev_timer retry_;
    ev_timer watchdog_;
    double backoff_ = 0;
    double last_heard_ = 0;  // the last reply from Redis, or the start of connecting

    uint64_t next_seq_ = 1;
    std::string outbox_;           // published, not sent: the next batch's events
    uint64_t outbox_seq_ = 0;      // its first event's sequence number
    std::deque<Batch> inflight_;   // sent, not acknowledged: sent again after a reconnect
    std::unordered_map<uint64_t, Member*> arriving_;  // by event seq: admitted when it comes back
    std::string last_id_;          // the last stream entry applied; "" before first contact
    std::unordered_map<std::string, uint64_t> applied_;  // by origin: last event seq applied
};
