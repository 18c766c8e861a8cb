// Session: the room as the generator sees it — its peers, what each has heard, the checks.
// Owned by a scenario's run(); it owns the peers and the read state their connections share.
#pragma once

#include "bench/conn.h"
#include "bench/histogram.h"
#include "bench/json.h"
#include "bench/payload.h"
#include "bench/peer.h"

#include <cstdint>
#include <ev.h>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

// What one peer has heard, and where it stands.
struct Hearing {
    std::vector<uint64_t> next;  // per sender: the seq it must hear next
    uint64_t delivered = 0;      // data lines heard, each new (in order, or after a gap)
    uint64_t gaps = 0;           // skips forward, for an exempt peer (dropped lines)
    uint64_t order = 0;          // hash of the sequence of data lines heard
    uint64_t last_heard_ns = 0;  // its last data line
    int rcvbuf = 0;
    bool started = false, joined = false, synced = false, closed = false;
    bool exempt = false;  // may miss lines (the slow consumer): not counted, gaps allowed
    bool dirty = false;   // has output for the next flush pass
};

// The checks: each sender's lines reach each receiver exactly once and in order (seq is
// the previous plus one), under the sender's own ADDR, in one global order, and none is
// lost. Scenarios drive it through hooks. All writes queued during a loop iteration are
// written in one flush pass before the loop sleeps, as the server does.
class Session final : private PeerEvents {
public:
    // senders: peers 0..senders-1 may send data lines, of payload_size bytes.
    Session(struct ev_loop* loop, const Target& target, int senders, size_t payload_size);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Adds peer number peers(); speaker: it will say lines. It connects on join() or start().
    Peer& add(bool speaker, int rcvbuf = 0);
    Peer& peer(size_t i) { return *peers_[i]; }
    size_t peers() const { return peers_.size(); }
    const Hearing& hearing(const Peer& p) const { return hearing_[p.index]; }
    void exempt(const Peer& p) { hearing_[p.index].exempt = true; }

    // Connects one peer now; false (counted, recorded) if it cannot even start.
    bool start(Peer& p);
    // Starts every peer not yet started, at most `concurrency` joining at once, and runs
    // until all have joined. False on a timeout or a failed connection.
    bool join(size_t concurrency, double timeout);
    // Peer 0 says a probe, and again every few ms once it has heard it back, until
    // every peer has heard one. Only then is a peer surely in the room: the Go server
    // greets a client before it adds it to the room.
    bool sync(double timeout);
    // Runs the loop until done() (checked at least every 50 ms) or the timeout.
    bool run(const std::function<bool()>& done, double timeout);

    // Queues sender s's next data line, stamped now.
    void send_data(int s, uint64_t now);
    // Queues any other line.
    void say(Peer& p, std::string_view payload);
    int senders() const { return senders_; }
    uint64_t sent(int s) const { return sent_[s]; }
    uint64_t total_sent() const;

    // Data lines heard by peers that count (not exempt).
    uint64_t delivered() const { return delivered_; }
    uint64_t last_delivery_ns() const { return last_delivery_ns_; }
    uint64_t last_join_ns() const { return last_join_ns_; }
    uint64_t last_sync_ns() const { return last_sync_ns_; }

    // Records a failure found by the scenario (the first one is reported in full).
    void fail(std::string what);
    // Adds the checks to out, with "ok" and the list of failures: the counters that are
    // not zero, and the scenario's own notes. Returns ok.
    bool report(JsonLine& out, const std::vector<std::string>& notes);

    // One-way latency of every data line heard by a peer that counts, if recording.
    Histogram latency;
    bool record_latency = false;
    // How long each read's data waited in its socket (see ConnReads), always recorded.
    Histogram& read_waits() { return reads_.waits; }

    // Hooks for the scenario.
    std::function<void(Peer&)> on_joined;
    std::function<void(Peer&, const Data&, uint64_t now)> on_data;
    // Lines that are neither data nor probes; without this hook they are failures.
    std::function<void(Peer&, std::string_view from, std::string_view payload)> on_other;
    std::function<void(Peer&, Presence, std::string_view addr)> on_presence;
    // A connection ended unasked; without this hook it is a failure unless exempt.
    std::function<void(Peer&, const char* why)> on_closed;

private:
    void joined(Peer& p) override;
    void heard(Peer& p, std::string_view from, std::string_view payload, uint64_t now) override;
    void presence(Peer& p, Presence kind, std::string_view addr) override;
    void garbled(Peer& p, std::string_view what) override;
    void closed(Peer& p, const char* why) override;

    void heard_probe(Peer& p, std::string_view from, std::string_view payload, uint64_t now);
    void start_more();
    void send_probe();
    static void on_prepare(struct ev_loop* loop, ev_prepare* w, int revents);
    void flush_pass();

    struct ev_loop* loop_;
    Target target_;
    int senders_;
    size_t size_;
    ConnReads reads_;  // lent to every peer's connections: declared before, outlives them
    std::vector<std::unique_ptr<Peer>> peers_;
    std::vector<Hearing> hearing_;
    std::vector<uint64_t> sent_;
    std::vector<int> dirty_, flushing_;
    std::string scratch_;

    size_t concurrency_ = 0;  // join(): peers joining at once; 0 outside join()
    size_t next_start_ = 0;
    size_t joining_ = 0;
    size_t joined_ = 0;
    size_t failed_ = 0;

    bool syncing_ = false;
    size_t unsynced_ = 0;
    uint64_t probe_round_ = 0;
    bool probe_back_ = false;

    uint64_t delivered_ = 0;
    uint64_t last_delivery_ns_ = 0, last_join_ns_ = 0, last_sync_ns_ = 0;
    uint64_t duplicated_ = 0, misordered_ = 0, bad_prefix_ = 0, bad_lines_ = 0, disconnected_ = 0;
    std::string first_error_;
    ev_prepare prepare_;
};

// Senders that keep at most `window` of their own lines unanswered (not yet heard back),
// until each has sent `lines`. Owned by the scenario, beside the Session it sends through.
class SendWindow {
public:
    SendWindow(Session& s, long window, long lines)
        : s_(s), window_(window), lines_(lines), in_flight_(static_cast<size_t>(s.senders()), 0)
    {
    }

    // Sends what sender i's window allows.
    void pump(int i, uint64_t now);
    // For Session::on_data: a sender that hears its own line back sends its next.
    void heard(const Peer& p, const Data& d, uint64_t now);
    // No more lines from now on; answers are still counted.
    void stop() { stopped_ = true; }

private:
    Session& s_;
    long window_;
    long lines_;
    std::vector<long> in_flight_;  // per sender: lines sent, not yet heard back
    bool stopped_ = false;
};

}  // namespace bench
