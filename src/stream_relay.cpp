// Stream relay: XADD pipelines out, one XREAD BLOCK in, what a resumed link finds, and a
// bound on what waits for Redis.
#include "stream_relay.h"

#include "lua_scripts.h"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstring>
#include <map>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <hiredis/hiredis.h>
#pragma GCC diagnostic pop

namespace {

// Entries per XREAD; with batches of at most batch_limit (plus one event) a reply stays
// within about 16 MiB.
constexpr const char* read_count = "256";
constexpr size_t batch_limit = 64 * 1024;
// What may wait for Redis (not yet sent, or not yet acknowledged) before clients' input
// is paused, and how far it must fall before it is read again. A Redis that takes
// commands but does not answer them (CLIENT PAUSE, a failover) must not grow the node.
constexpr size_t backlog_high = 4 << 20;
constexpr size_t backlog_low = 1 << 20;
// Reading back for the history: entries per XREVRANGE, and how many of those at most (an
// entry may hold only arrivals, so the lines wanted may be far back, or not there at all).
constexpr size_t recall_page = 64;
constexpr size_t recall_pages = 64;

// A stream entry as evchat writes it: [ID, [o ORIGIN s SEQ e EVENTS ...]].
struct Entry {
    const char* id = nullptr;  // null: not an entry at all
    const redisReply* fields = nullptr;
    const redisReply* origin = nullptr;  // these three null: not an evchat batch
    const redisReply* seq = nullptr;
    const redisReply* events = nullptr;
    bool batch() const { return origin && seq && events; }
};

Entry parse_entry(const redisReply* entry)
{
    Entry e;
    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 || !is_string(entry->element[0]))
        return e;
    e.id = entry->element[0]->str;
    e.fields = entry->element[1];
    const redisReply *origin = field(e.fields, "o"), *seq = field(e.fields, "s"), *events = field(e.fields, "e");
    if (is_string(origin) && is_string(seq) && is_string(events)) {
        e.origin = origin;
        e.seq = seq;
        e.events = events;
    }
    return e;
}

}  // namespace

StreamRelay::StreamRelay(RedisLink& link, Log& log, Broadcaster& room, const ClusterConfig& config,
                         const std::string& origin, Events& events)
    : link_(link), log_(log), room_(room), config_(config), origin_(origin), events_(events)
{
    ledger_.expect(origin_);
}

// Where the stream stands decides where reading resumes (see StreamLedger::resume); the
// members as of that point are the roster's, whatever it held before (a Redis that lost
// its data, or entries trimmed unread, leave nothing stale).
void StreamRelay::resume_reading()
{
    link_.read(RedisArgs().add("EVAL").add(lua::snapshot).add("1").add(config_.stream), on_snapshot, this);
}

void StreamRelay::on_snapshot(redisAsyncContext* c, void* r, void* privdata)
{
    redisReply* reply = RedisLink::answer(c, r, "EVAL (the room's snapshot)");
    if (!reply)
        return;
    auto* self = static_cast<StreamRelay*>(privdata);
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 3 != 1) {
        self->log_.write(LogLevel::error, "cluster: snapshot of %s: unexpected reply", self->config_.stream.c_str());
        self->link_.lost("snapshot failed");
        return;
    }
    self->load_roster(reply);
    const redisReply* info = reply->element[0];
    if (info->type == REDIS_REPLY_INTEGER) {
        self->counted_until_ = {};
        self->resume({});  // nobody has said anything yet
        return;
    }
    const redisReply* last = field(info, "last-generated-id");
    if (!is_string(last)) {
        self->log_.write(LogLevel::error, "cluster: XINFO STREAM %s: unexpected reply", self->config_.stream.c_str());
        self->link_.lost("XINFO STREAM failed");
        return;
    }
    StreamLedger::StreamState state;
    state.last_generated = last->str;
    self->counted_until_ = StreamLedger::parse_id(state.last_generated);
    if (const redisReply* deleted = field(info, "max-deleted-entry-id"); is_string(deleted))  // Redis 7
        state.max_deleted = deleted->str;
    const redisReply* first = field(info, "first-entry");  // nil when empty
    if (first && first->type == REDIS_REPLY_ARRAY && first->elements == 2 && is_string(first->element[0]))
        state.first_entry = first->element[0]->str;
    self->resume(state);
}

// The triples (origin, name, place) after the stream's state, each node's in its order;
// places are drawn from one counter, so sorted by place they are the room's order.
void StreamRelay::load_roster(const redisReply* snapshot)
{
    struct Present {
        double place;
        std::string_view origin, name;
    };
    std::vector<Present> room;
    room.reserve(snapshot->elements / 3);
    for (size_t i = 1; i + 2 < snapshot->elements; i += 3) {
        const redisReply *o = snapshot->element[i], *n = snapshot->element[i + 1], *p = snapshot->element[i + 2];
        if (is_string(o) && is_string(n) && is_string(p))
            room.push_back({strtod(p->str, nullptr), {o->str, o->len}, {n->str, n->len}});
    }
    std::stable_sort(room.begin(), room.end(), [](const Present& a, const Present& b) { return a.place < b.place; });
    RoomRoster& roster = room_.whole_room();
    roster.clear();
    for (const Present& m : room)
        roster.arrive(m.origin, m.name);
}

void StreamRelay::resume(const StreamLedger::StreamState& state)
{
    std::string was = ledger_.read_after();
    switch (ledger_.resume(state)) {
    case StreamLedger::Resume::first_contact:
    case StreamLedger::Resume::intact:
        break;
    case StreamLedger::Resume::trimmed:
        log_.write(LogLevel::error,
                   "cluster: stream %s was trimmed up to %s while this node was at %s: entries were lost "
                   "here (raise [cluster] maxlen)",
                   config_.stream.c_str(), state.max_deleted.c_str(), was.c_str());
        break;
    case StreamLedger::Resume::went_back:
        log_.write(LogLevel::error,
                   "cluster: stream %s is not the one this node read up to %s (Redis restarted without "
                   "its data, or from an older copy): what it had not delivered here is lost; reading "
                   "it after %s, where this node started",
                   config_.stream.c_str(), was.c_str(), ledger_.read_after().c_str());
        // This node's arrivals that Redis had taken will never come back: say them again.
        readmit(first_unacknowledged());
        break;
    }
    link_.mark_up();
    log_.write(LogLevel::info, "cluster: redis %s up, reading %s after %s", link_.address().c_str(),
               config_.stream.c_str(), ledger_.read_after().c_str());
    // Nothing is sent before the first tick has answered (vet()): the node must learn
    // whether it was swept while away before it says anything; and it is registered
    // before any batch, so that members added to its set are of a node someone will sweep.
    vetted_ = false;
    events_.relay_up();
    if (recalled_)
        read_next();
    else
        start_recall();
    events_.readable_changed();
}

// Once, before anything applies: the lines said before this node joined, read back from
// where its reading starts. A link lost meanwhile starts it over at the next connect.
void StreamRelay::start_recall()
{
    const RoomHistory* history = room_.history();
    if (!history || history->max_lines() == 0) {
        recalled_ = true;
        read_next();
        return;
    }
    recall_ = std::make_unique<HistoryRecall>(history->max_lines(), history->max_bytes());
    recall_pages_ = 0;
    read_back(ledger_.read_after());
}

void StreamRelay::read_back(const std::string& end)
{
    recall_pages_++;
    std::string count = std::to_string(recall_page);
    link_.read(RedisArgs().add("XREVRANGE").add(config_.stream).add(end).add("-").add("COUNT").add(count),
               on_recalled, this);
}

void StreamRelay::on_recalled(redisAsyncContext* c, void* r, void* privdata)
{
    redisReply* reply = RedisLink::answer(c, r, "XREVRANGE");
    if (!reply)
        return;
    auto* self = static_cast<StreamRelay*>(privdata);
    size_t n = reply->type == REDIS_REPLY_ARRAY ? reply->elements : 0;
    std::string oldest;
    for (size_t i = 0; i < n; i++) {
        Entry e = parse_entry(reply->element[i]);
        if (!e.id)
            continue;
        oldest = e.id;
        if (e.batch())
            self->recall_->entry({e.origin->str, e.origin->len}, strtoull(e.seq->str, nullptr, 10),
                                 {e.events->str, e.events->len});
    }
    std::string before = StreamLedger::previous_id(oldest);
    if (!self->recall_->full() && n == recall_page && self->recall_pages_ < recall_pages && !before.empty())
        self->read_back(before);
    else
        self->finish_recall();
}

void StreamRelay::finish_recall()
{
    recall_->each_oldest_first([&](const RoomEvent& e) { room_.recall(e); });
    log_.write(LogLevel::info, "cluster: history: %zu lines said before this node joined, from %s",
               recall_->lines(), config_.stream.c_str());
    recall_.reset();
    recalled_ = true;
    read_next();
}

void StreamRelay::link_lost()
{
    vetted_ = false;
}

std::string StreamRelay::stalled(double now) const
{
    if (!sending() || inflight_.empty() || now - inflight_.front().sent_at <= config_.timeout)
        return "";
    char why[48];
    snprintf(why, sizeof why, "XADD unanswered for %.1f s", now - inflight_.front().sent_at);
    return why;
}

void StreamRelay::vet()
{
    if (vetted_)
        return;
    vetted_ = true;
    for (Batch& b : inflight_)
        send(b);
    flush();
}

void StreamRelay::publish(const RoomEvent& e, Member* arriving)
{
    using K = RoomEvent::Kind;
    if (e.kind == K::arrival || e.kind == K::leave)
        outbox_ops_.push_back((e.kind == K::arrival ? "+" : "-") + std::string(e.name));
    else if (e.kind == K::rename)
        outbox_ops_.push_back(">" + std::string(e.name) + "\n" + std::string(e.text));
    uint64_t seq = add(e);
    if (arriving)
        arriving_[seq] = arriving;
}

uint64_t StreamRelay::add(const RoomEvent& e)
{
    uint64_t seq = next_seq_++;
    if (outbox_.empty())
        outbox_seq_ = seq;
    append_event(outbox_, e);
    if (outbox_.size() >= batch_limit)
        flush();
    check_backlog();
    return seq;
}

void StreamRelay::forget(Member& m)
{
    for (auto it = arriving_.begin(); it != arriving_.end(); ++it)
        if (it->second == &m) {
            arriving_.erase(it);
            return;
        }
}

void StreamRelay::flush()
{
    if (!sending() || outbox_.empty())
        return;
    inflight_bytes_ += outbox_.size();
    inflight_.push_back({outbox_seq_, std::move(outbox_), std::move(outbox_ops_)});
    outbox_.clear();
    outbox_ops_.clear();
    send(inflight_.back());
}

// An entry of lines only, the common case, is the XADD alone; one that changes who is in
// the room changes the member set with it (members.lua).
void StreamRelay::send(Batch& b)
{
    b.sent_at = link_.now();
    // RedisArgs holds views: every argument lives until the command is written.
    std::string maxlen = std::to_string(config_.maxlen), seq = std::to_string(b.first_seq), members = members_key(),
                arrivals = config_.stream + ":arrivals";
    RedisArgs args;
    if (b.ops.empty()) {
        args.add("XADD").add(config_.stream).add("MAXLEN").add("~").add(maxlen).add("*");
        args.add("o").add(origin_).add("s").add(seq).add("e").add(b.events);
    } else {
        args.add("EVAL").add(lua::members).add("3").add(config_.stream).add(members).add(arrivals);
        args.add(maxlen).add(origin_).add(seq).add(b.events);
        for (const std::string& op : b.ops)
            args.add(op);
    }
    link_.write(args, on_added, this);
}

void StreamRelay::on_added(redisAsyncContext* c, void* r, void* privdata)
{
    if (!RedisLink::answer(c, r, "XADD"))
        return;
    auto* self = static_cast<StreamRelay*>(privdata);
    assert(!self->inflight_.empty());
    self->inflight_bytes_ -= self->inflight_.front().events.size();
    self->inflight_.pop_front();
    self->check_backlog();
}

// The pause has hysteresis, so that input does not flap on and off around one size.
void StreamRelay::check_backlog()
{
    size_t waiting = outbox_.size() + inflight_bytes_;
    bool was = backlogged_;
    if (!backlogged_ && waiting > backlog_high)
        backlogged_ = true;
    else if (backlogged_ && waiting < backlog_low)
        backlogged_ = false;
    if (backlogged_ == was)
        return;
    log_.write(backlogged_ ? LogLevel::warn : LogLevel::info, "cluster: %zu bytes wait for redis %s: %s client input",
               waiting, link_.address().c_str(), backlogged_ ? "pausing" : "reading");
    events_.readable_changed();
}

// Those in the room or on their way in, less what the batch not yet sent will change (the
// outbox; once vetted, every batch in flight has been sent, and runs first).
std::set<std::string> StreamRelay::members_in_redis() const
{
    std::set<std::string> names;
    room_.each_member([&](const Member& m) { names.insert(m.name); });
    for (const auto& [seq, m] : arriving_)
        names.insert(m->name);
    auto undo = [&](const std::vector<std::string>& ops) {
        for (auto op = ops.rbegin(); op != ops.rend(); ++op) {
            std::string name = op->substr(1);
            if ((*op)[0] == '+') {
                names.erase(name);
            } else if ((*op)[0] == '-') {
                names.insert(name);
            } else {
                size_t newline = name.find('\n');
                names.erase(name.substr(newline + 1));
                names.insert(name.substr(0, newline));
            }
        }
    };
    assert(vetted_);
    undo(outbox_ops_);
    return names;
}

uint64_t StreamRelay::first_unacknowledged() const
{
    if (!inflight_.empty())
        return inflight_.front().first_seq;
    return outbox_.empty() ? next_seq_ : outbox_seq_;
}

// Arrivals below `below` that are still waiting will never come back (their entries are
// gone): they are published again, in order, so their members do get in.
void StreamRelay::readmit(uint64_t below)
{
    std::map<uint64_t, Member*> lost_arrivals;
    for (auto it = arriving_.begin(); it != arriving_.end();) {
        if (it->first < below) {
            lost_arrivals.insert(*it);
            it = arriving_.erase(it);
        } else {
            ++it;
        }
    }
    for (auto& [seq, m] : lost_arrivals) {
        log_.write(LogLevel::warn, "cluster: the arrival of %s was lost with the stream: saying it again",
                   m->name.c_str());
        publish({RoomEvent::Kind::arrival, m->name, {}}, m);
    }
}

// XREAD blocks for half the timeout, so that a healthy link is never silent for all of it.
void StreamRelay::read_next()
{
    std::string block = std::to_string(std::max(1, static_cast<int>(config_.timeout * 1000 / 2)));
    link_.read(RedisArgs()
                   .add("XREAD")
                   .add("COUNT")
                   .add(read_count)
                   .add("BLOCK")
                   .add(block)
                   .add("STREAMS")
                   .add(config_.stream)
                   .add(ledger_.read_after()),
               on_read, this);
}

void StreamRelay::on_read(redisAsyncContext* c, void* r, void* privdata)
{
    redisReply* reply = RedisLink::answer(c, r, "XREAD");
    if (!reply)
        return;
    auto* self = static_cast<StreamRelay*>(privdata);
    // [[stream, [entry, ...]]], or nil when the block timed out.
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1) {
        const redisReply* stream = reply->element[0];
        if (stream->type == REDIS_REPLY_ARRAY && stream->elements == 2 && stream->element[1]->type == REDIS_REPLY_ARRAY)
            self->deliver(stream->element[1]);
    }
    self->read_next();
}

// Entries in stream order; the ledger says which to apply and what went missing.
void StreamRelay::deliver(const redisReply* entries)
{
    for (size_t i = 0; i < entries->elements; i++) {
        Entry entry = parse_entry(entries->element[i]);
        if (!entry.id)
            continue;
        const char* id = entry.id;
        const redisReply *origin = entry.origin, *seq = entry.seq, *events = entry.events;
        if (!entry.batch()) {
            // Once: a stream shared with another program would otherwise flood the log.
            log_.write(foreign_logged_ ? LogLevel::debug : LogLevel::warn,
                       "cluster: skipping entry %s of %s: not an evchat batch", id, config_.stream.c_str());
            foreign_logged_ = true;
            continue;
        }
        std::string from(origin->str, origin->len);
        // What the entry changes in the roster: the snapshot loaded at the connect already
        // holds it if the entry is not after the snapshot's point.
        bool counted = StreamLedger::parse_id(id) <= counted_until_;
        if (is_string(field(entry.fields, "c"))) {
            ledger_.passed(id);
            if (!counted && !ledger_.buried(from))
                take_census(from, {events->str, events->len});
            continue;
        }
        std::string whose = from;  // the node whose members the events are about
        if (const redisReply* dead = field(entry.fields, "x"); is_string(dead)) {
            std::string buried(dead->str, dead->len);
            if (buried == origin_) {
                events_.buried();
                return;
            }
            ledger_.bury(buried);
            whose = buried;
        }
        uint64_t first = strtoull(seq->str, nullptr, 10);
        StreamLedger::Verdict v = ledger_.next(id, from, first);
        if (v.lost > 0) {
            log_.write(LogLevel::error, "cluster: %llu events of %s were lost before entry %s (trimmed unread?)",
                       static_cast<unsigned long long>(v.lost), from.c_str(), id);
            if (from == origin_)
                readmit(first);
        }
        if (!v.apply)
            continue;
        bool mine = from == origin_;
        std::string_view rest(events->str, events->len);
        RoomEvent e;
        bool malformed = false;
        uint64_t n = first;
        for (; next_event(rest, e, malformed); n++) {
            Member* arriving = nullptr;
            if (mine && e.kind == RoomEvent::Kind::arrival) {
                auto it = arriving_.find(n);
                if (it != arriving_.end()) {
                    arriving = it->second;
                    arriving_.erase(it);
                }
            }
            room_.apply(e, arriving, whose, counted);
        }
        if (n > first)
            ledger_.applied(from, n - 1);
        if (malformed)
            log_.write(LogLevel::warn, "cluster: entry %s from %s ends in bytes that are no event", id, from.c_str());
    }
}

// A node's census (tick.lua): its members' arrivals, in order, which are all its members.
void StreamRelay::take_census(const std::string& origin, std::string_view events)
{
    std::vector<std::string_view> names;
    RoomEvent e;
    bool malformed = false;
    while (next_event(events, e, malformed))
        names.push_back(e.name);
    room_.whole_room().census(origin, names);
    log_.write(LogLevel::info, "cluster: node %s said its %zu members again (redis had lost or restored its set)",
               origin.c_str(), names.size());
}
