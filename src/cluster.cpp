// Cluster link: XADD pipelines out, one XREAD BLOCK in, reconnection with backoff, a
// watchdog for a silent Redis, and a bound on what waits for it.
#include "cluster.h"

#include "address.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cassert>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>
#include <netinet/in.h>
#include <sys/random.h>
#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <hiredis/adapters/libev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#pragma GCC diagnostic pop

namespace {

constexpr double first_backoff = 0.1;
constexpr double max_backoff = 5.0;
// Entries per XREAD; with batches of at most batch_limit (plus one event) a reply stays
// within about 16 MiB.
constexpr const char* read_count = "256";
constexpr size_t batch_limit = 64 * 1024;
// What may wait for Redis (not yet sent, or not yet acknowledged) before clients' input
// is paused, and how far it must fall before it is read again. A Redis that takes
// commands but does not answer them (CLIENT PAUSE, a failover) must not grow the node.
constexpr size_t backlog_high = 4 << 20;
constexpr size_t backlog_low = 1 << 20;

// Takes each name's key (KEYS[i]) for its holder (ARGV[i]) under a fresh lease if it is
// free or the holder's already, and counts those held by others: 0 answers a claim with
// yes.
constexpr const char* hold_script =
    "local n = 0 local px = ARGV[#KEYS + 1] for i, k in ipairs(KEYS) do local v = redis.call('get', k) "
    "if not v or v == ARGV[i] then redis.call('set', k, ARGV[i], 'px', px) else n = n + 1 end end return n";
// A batch that changes who is in the room: the entry, and this node's member set
// (KEYS[2]) changed with it atomically, "+NAME" added and "-NAME" taken out in order, so
// that whoever sweeps a dead node's members finds exactly those the stream has in the room.
constexpr const char* members_script =
    "local id = redis.call('xadd', KEYS[1], 'maxlen', '~', ARGV[1], '*', 'o', ARGV[2], 's', ARGV[3], 'e', ARGV[4]) "
    "for i = 5, #ARGV do local op, name = ARGV[i]:sub(1, 1), ARGV[i]:sub(2) "
    "if op == '+' then redis.call('sadd', KEYS[2], name) else redis.call('srem', KEYS[2], name) end end "
    "return id";
// The lease tick of one node. ARGV: 1 its origin, 2 the key prefix (the stream's key),
// 3 the lease in ms, 4 the stream's MAXLEN, 5 "1" if it may sweep, then a holder for each
// name key in KEYS, then its members. It renews the names as hold_script does (a key a
// Redis lost comes back; one another took meanwhile is counted), its liveness key and
// registration, and sets its member set to exactly its members (in the room, or with
// their arrival sent: the batches after this command change it from there, in order).
// A node that was swept learns it first, and takes nothing back: it must stop, and its
// members must not be swept (and told to leave) a second time.
// Then, if it may, it sweeps each registered node whose liveness key is gone: the leaves
// of that node's members go to the stream as one entry of origin "ORIGIN/swept" whose
// field x names the dead node (whose later entries nobody applies), its member set,
// registration and members' names go, and a marker tells the node, should it come back,
// that it was swept. All in one step, so one survivor sweeps, and a lost reply loses
// nothing. Returns {names held by others, this node was swept, {origin, count}...}.
constexpr const char* tick_script =
    "local me, p, px, maxlen, may_sweep, n = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], #KEYS "
    "local function u32(x) return string.char(x % 256, math.floor(x / 256) % 256, "
    "math.floor(x / 65536) % 256, math.floor(x / 16777216) % 256) end "
    "if redis.call('exists', p .. ':swept:' .. me) == 1 then return {0, 1} end "
    "local taken = 0 "
    "for i, k in ipairs(KEYS) do local v = redis.call('get', k) "
    "if not v or v == ARGV[5 + i] then redis.call('set', k, ARGV[5 + i], 'px', px) else taken = taken + 1 end end "
    "redis.call('set', p .. ':node:' .. me, '1', 'px', px) "
    "redis.call('sadd', p .. ':nodes', me) "
    "redis.call('del', p .. ':members:' .. me) "
    "for i = 6 + n, #ARGV do redis.call('sadd', p .. ':members:' .. me, ARGV[i]) end "
    "local out = {taken, 0} "
    "if may_sweep ~= '1' then return out end "
    "for _, o in ipairs(redis.call('smembers', p .. ':nodes')) do "
    "if redis.call('exists', p .. ':node:' .. o) == 0 then "
    "local ms = redis.call('smembers', p .. ':members:' .. o) local events = {} "
    "for _, m in ipairs(ms) do table.insert(events, 'l' .. u32(#m) .. m .. u32(0)) "
    "local k = p .. ':name:' .. m local v = redis.call('get', k) "
    "if v and v:sub(1, #o + 1) == o .. '/' then redis.call('del', k) end end "
    "redis.call('xadd', p, 'maxlen', '~', maxlen, '*', 'o', o .. '/swept', 's', '1', 'e', table.concat(events), "
    "'x', o) "
    "redis.call('set', p .. ':swept:' .. o, '1', 'px', 86400000) "
    "redis.call('del', p .. ':members:' .. o) redis.call('srem', p .. ':nodes', o) "
    "table.insert(out, o) table.insert(out, #ms) end end "
    "return out";
// Deletes a name's key only if its holder (ARGV[1]) still has it.
constexpr const char* release_script =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";

// Whatever was in flight on a lost link goes out again first, in its order.
template <class T>
void requeue(std::deque<T>& inflight, std::deque<T>& waiting)
{
    waiting.insert(waiting.begin(), std::make_move_iterator(inflight.begin()), std::make_move_iterator(inflight.end()));
    inflight.clear();
}

std::string default_node_name()
{
    char host[256] = "evchat";
    gethostname(host, sizeof host - 1);
    return std::string(host) + "-" + std::to_string(getpid());
}

// A node restarted under the same name must not look like its earlier self, whose
// sequence numbers the other nodes remember.
std::string incarnation()
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r)
        r = static_cast<uint64_t>(time(nullptr)) << 20 ^ static_cast<uint64_t>(getpid());
    char hex[17];
    snprintf(hex, sizeof hex, "%016" PRIx64, r);
    return hex;
}

// A command's arguments as hiredis takes them, binary-safe; the strings must outlive it.
struct Args {
    std::vector<const char*> argv;
    std::vector<size_t> len;
    void add(std::string_view a)
    {
        argv.push_back(a.data());
        len.push_back(a.size());
    }
    int count() const { return static_cast<int>(argv.size()); }
};

bool is_string(const redisReply* r)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

// The value after `name` in a flat field-value array (an entry's fields, XINFO's reply).
const redisReply* field(const redisReply* fields, const char* name)
{
    if (!fields || fields->type != REDIS_REPLY_ARRAY)
        return nullptr;
    for (size_t i = 0; i + 1 < fields->elements; i += 2)
        if (is_string(fields->element[i]) && strcmp(fields->element[i]->str, name) == 0)
            return fields->element[i + 1];
    return nullptr;
}

}  // namespace

Cluster::Cluster(struct ev_loop* loop, Settings settings, Log& log, Broadcaster& room, std::function<void()> on_change,
                 Claimed on_claimed, std::function<void()> on_fenced)
    : loop_(loop), settings_(std::move(settings)), log_(log), room_(room), on_change_(std::move(on_change)),
      on_claimed_(std::move(on_claimed)), on_fenced_(std::move(on_fenced))
{
    if (settings_.node.empty())
        settings_.node = default_node_name();
    origin_ = settings_.node + "/" + incarnation();
    lease_ms_ = std::to_string(static_cast<long long>(settings_.lease * 1000));
    ledger_.expect(origin_);
    ListenAddress where;
    std::string err;
    bool ok = parse_listen_address(settings_.redis, where, err);
    assert(ok);  // validated with the config
    (void)ok;
    char ip[INET6_ADDRSTRLEN] = "";
    if (where.addr.ss_family == AF_INET) {
        auto* v4 = reinterpret_cast<sockaddr_in*>(&where.addr);
        inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof ip);
        port_ = ntohs(v4->sin_port);
    } else {
        auto* v6 = reinterpret_cast<sockaddr_in6*>(&where.addr);
        inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof ip);
        port_ = ntohs(v6->sin6_port);
    }
    host_ = ip;
    ev_init(&retry_, on_retry);
    retry_.data = this;
    double tick = std::min(1.0, settings_.timeout / 4);
    ev_timer_init(&watchdog_, on_watchdog, tick, tick);
    watchdog_.data = this;
}

Cluster::~Cluster()
{
    ev_timer_stop(loop_, &retry_);
    ev_timer_stop(loop_, &watchdog_);
    for (redisAsyncContext* c : {writer_, reader_})
        if (c) {
            c->data = nullptr;  // its callbacks, called once more from the free, do nothing
            redisAsyncFree(c);
        }
}

void Cluster::start()
{
    log_.write(LogLevel::info, "cluster: node %s (origin %s), stream %s on redis %s", settings_.node.c_str(),
               origin_.c_str(), settings_.stream.c_str(), settings_.redis.c_str());
    ev_timer_start(loop_, &watchdog_);
    connect();
}

void Cluster::connect()
{
    connected_ = 0;
    heard();
    for (redisAsyncContext** slot : {&writer_, &reader_}) {
        redisAsyncContext* c = redisAsyncConnect(host_.c_str(), port_);
        if (!c || c->err) {
            std::string why = c ? c->errstr : "out of memory";
            if (c)
                redisAsyncFree(c);
            lost(why.c_str());
            return;
        }
        c->data = this;
        redisEnableKeepAlive(&c->c);  // a peer that vanished without a word is found
        redisLibevAttach(loop_, c);
        redisAsyncSetConnectCallback(c, on_connect);
        redisAsyncSetDisconnectCallback(c, on_disconnect);
        *slot = c;
    }
}

void Cluster::on_connect(const redisAsyncContext* c, int status)
{
    auto* self = static_cast<Cluster*>(c->data);
    if (!self)
        return;
    if (status != REDIS_OK) {
        // hiredis frees a context whose connect failed once this returns.
        (c == self->writer_ ? self->writer_ : self->reader_) = nullptr;
        self->lost(c->errstr);
        return;
    }
    if (++self->connected_ < 2)
        return;
    // Where the stream stands decides where reading resumes (see StreamLedger::resume).
    const char* argv[] = {"XINFO", "STREAM", self->settings_.stream.c_str()};
    redisAsyncCommandArgv(self->reader_, on_info, nullptr, 3, argv, nullptr);
}

// The cluster a reply is for, if the reply is one to read: not for the callbacks hiredis
// makes while it frees a context (no reply, or a context already let go), nor for an
// error, which is logged (once an outage) and takes the link down.
Cluster* Cluster::answered(redisAsyncContext* c, void* r, const char* command)
{
    auto* self = static_cast<Cluster*>(c->data);
    auto* reply = static_cast<redisReply*>(r);
    if (!self || !reply)
        return nullptr;
    self->heard();
    if (reply->type != REDIS_REPLY_ERROR)
        return self;
    self->log_.write(self->outage_logged_ ? LogLevel::debug : LogLevel::error, "cluster: %s %s: %s", command,
                     self->settings_.stream.c_str(), reply->str);
    self->lost((std::string(command) + " failed").c_str());
    return nullptr;
}

void Cluster::on_info(redisAsyncContext* c, void* r, void*)
{
    auto* reply = static_cast<redisReply*>(r);
    if (c->data && reply && reply->type == REDIS_REPLY_ERROR && strstr(reply->str, "no such key")) {
        auto* self = static_cast<Cluster*>(c->data);
        self->heard();
        self->resume({});  // nobody has said anything yet
        return;
    }
    Cluster* self = answered(c, r, "XINFO STREAM");
    if (!self)
        return;
    const redisReply* last = field(reply, "last-generated-id");
    if (!is_string(last)) {
        self->log_.write(LogLevel::error, "cluster: XINFO STREAM %s: unexpected reply", self->settings_.stream.c_str());
        self->lost("XINFO STREAM failed");
        return;
    }
    StreamLedger::StreamState state;
    state.last_generated = last->str;
    if (const redisReply* deleted = field(reply, "max-deleted-entry-id"); is_string(deleted))  // Redis 7
        state.max_deleted = deleted->str;
    const redisReply* first = field(reply, "first-entry");  // nil when empty
    if (first && first->type == REDIS_REPLY_ARRAY && first->elements == 2 && is_string(first->element[0]))
        state.first_entry = first->element[0]->str;
    self->resume(state);
}

void Cluster::resume(const StreamLedger::StreamState& state)
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
                   settings_.stream.c_str(), state.max_deleted.c_str(), was.c_str());
        break;
    case StreamLedger::Resume::went_back:
        log_.write(LogLevel::error,
                   "cluster: stream %s is not the one this node read up to %s (Redis restarted without "
                   "its data, or from an older copy): what it had not delivered here is lost; reading "
                   "it after %s, where this node started",
                   settings_.stream.c_str(), was.c_str(), ledger_.read_after().c_str());
        // This node's arrivals that Redis had taken will never come back: say them again.
        readmit(first_unacknowledged());
        break;
    }
    up_ = true;
    proven_ = false;
    up_since_ = ev_now(loop_);
    log_.write(LogLevel::info, "cluster: redis %s up, reading %s after %s", settings_.redis.c_str(),
               settings_.stream.c_str(), ledger_.read_after().c_str());
    // Nothing is sent before the first tick has answered (vetted_): the node must learn
    // whether it was swept while away before it says anything; and it is registered
    // before any batch, so that members added to its set are of a node someone will sweep.
    vetted_ = false;
    tick();
    read_next();
    on_change_();
}

// Only a link that has worked resets the backoff and the once-an-outage logging: a Redis
// that accepts connections and refuses every XADD (OOM) is one outage, retried slowly.
void Cluster::proven()
{
    if (proven_)
        return;
    proven_ = true;
    backoff_ = 0;
    outage_logged_ = false;
}

void Cluster::on_disconnect(const redisAsyncContext* c, int)
{
    auto* self = static_cast<Cluster*>(c->data);
    if (!self)
        return;
    (c == self->writer_ ? self->writer_ : self->reader_) = nullptr;
    self->lost(c->errstr[0] ? c->errstr : "connection closed");
}

// Both connections go, whichever failed: they are one link. Clients stop being read
// (TCP holds them back) until it is back; nothing unacknowledged is forgotten.
void Cluster::lost(const char* why)
{
    bool was_up = up_;
    up_ = false;
    vetted_ = false;
    connected_ = 0;
    requeue(claims_inflight_, claims_waiting_);
    requeue(releases_inflight_, releases_waiting_);
    for (redisAsyncContext** slot : {&writer_, &reader_})
        if (*slot) {
            (*slot)->data = nullptr;
            redisAsyncFree(*slot);
            *slot = nullptr;
        }
    if (ev_is_active(&retry_))
        return;
    backoff_ = backoff_ == 0 ? first_backoff : std::min(backoff_ * 2, max_backoff);
    log_.write(outage_logged_ ? LogLevel::debug : LogLevel::warn,
               "cluster: redis %s: %s; retrying in %g s (until then arrivals wait and input is paused)",
               settings_.redis.c_str(), why, backoff_);
    outage_logged_ = true;
    ev_timer_set(&retry_, backoff_, 0.0);
    ev_timer_start(loop_, &retry_);
    if (was_up)
        on_change_();
}

void Cluster::on_retry(struct ev_loop*, ev_timer* w, int)
{
    static_cast<Cluster*>(w->data)->connect();
}

// XREAD blocks for less than the timeout, so a healthy link is never silent that long;
// and Redis answers XADDs in order, so the oldest one unanswered tells of a stuck writer.
void Cluster::on_watchdog(struct ev_loop* loop, ev_timer* w, int)
{
    auto* self = static_cast<Cluster*>(w->data);
    if (!self->writer_ && !self->reader_)
        return;
    double now = ev_now(loop), timeout = self->settings_.timeout;
    char why[80] = "";
    if (now - self->last_heard_ > timeout)
        snprintf(why, sizeof why, "no reply for %.1f s", now - self->last_heard_);
    else if (self->sending() && !self->inflight_.empty() && now - self->inflight_.front().sent_at > timeout)
        snprintf(why, sizeof why, "XADD unanswered for %.1f s", now - self->inflight_.front().sent_at);
    if (why[0]) {
        self->lost(why);
        return;
    }
    if (self->up_ && now - self->up_since_ >= timeout)
        self->proven();
    if (self->up_ && now - self->ticked_at_ >= self->settings_.lease / 3)
        self->tick();
}

void Cluster::publish(const RoomEvent& e, Member* arriving)
{
    if (e.kind == RoomEvent::Kind::arrival || e.kind == RoomEvent::Kind::leave)
        outbox_ops_.push_back((e.kind == RoomEvent::Kind::arrival ? "+" : "-") + std::string(e.name));
    uint64_t seq = add(e);
    if (arriving)
        arriving_[seq] = arriving;
}

uint64_t Cluster::add(const RoomEvent& e)
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

void Cluster::forget(Member& m)
{
    for (auto it = arriving_.begin(); it != arriving_.end(); ++it)
        if (it->second == &m) {
            arriving_.erase(it);
            return;
        }
}

void Cluster::flush()
{
    if (!sending())
        return;
    if (!outbox_.empty()) {
        inflight_bytes_ += outbox_.size();
        inflight_.push_back({outbox_seq_, std::move(outbox_), std::move(outbox_ops_)});
        outbox_.clear();
        outbox_ops_.clear();
        send(inflight_.back());
    }
    send_releases();
}

// hiredis queues commands in its output buffer and writes them together when the loop
// polls: one round trip for everything this node said in a loop iteration.
void Cluster::send(Batch& b)
{
    b.sent_at = ev_now(loop_);
    std::string maxlen = std::to_string(settings_.maxlen), seq = std::to_string(b.first_seq);
    if (b.ops.empty()) {  // lines only, the common case: the entry alone
        const char* argv[] = {"XADD", settings_.stream.c_str(), "MAXLEN", "~", maxlen.c_str(), "*",
                              "o", origin_.c_str(), "s", seq.c_str(), "e", b.events.data()};
        size_t len[] = {4, settings_.stream.size(), 6, 1, maxlen.size(), 1,
                        1, origin_.size(), 1, seq.size(), 1, b.events.size()};
        redisAsyncCommandArgv(writer_, on_added, nullptr, 12, argv, len);
        return;
    }
    std::string members = members_key(origin_);
    Args args;
    for (std::string_view a : {std::string_view("EVAL"), std::string_view(members_script), std::string_view("2"),
                               std::string_view(settings_.stream), std::string_view(members),
                               std::string_view(maxlen), std::string_view(origin_), std::string_view(seq),
                               std::string_view(b.events)})
        args.add(a);
    for (const std::string& op : b.ops)
        args.add(op);
    redisAsyncCommandArgv(writer_, on_added, nullptr, args.count(), args.argv.data(), args.len.data());
}

void Cluster::on_added(redisAsyncContext* c, void* r, void*)
{
    Cluster* self = answered(c, r, "XADD");
    if (!self)
        return;
    assert(!self->inflight_.empty());
    self->inflight_bytes_ -= self->inflight_.front().events.size();
    self->inflight_.pop_front();
    self->proven();
    self->check_backlog();
}

// The pause has hysteresis, so that input does not flap on and off around one size.
void Cluster::check_backlog()
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
               waiting, settings_.redis.c_str(), backlogged_ ? "pausing" : "reading");
    on_change_();
}

void Cluster::claim(uint64_t id, const std::string& name)
{
    claims_waiting_.push_back({id, name});
    if (sending())
        send_claims();
}

void Cluster::cancel(uint64_t id)
{
    for (auto it = claims_waiting_.begin(); it != claims_waiting_.end(); ++it)
        if (it->id == id) {
            claims_waiting_.erase(it);
            return;
        }
    for (Claim& c : claims_inflight_)
        if (c.id == id)
            c.cancelled = true;
}

// Runs script on each waiting name's key and holder (and the lease, which only the
// hold script reads), in order, and keeps each in flight until answered.
void Cluster::send_names(std::deque<Claim>& waiting, std::deque<Claim>& inflight, const char* script,
                         void (*answered)(redisAsyncContext*, void*, void*))
{
    for (; !waiting.empty(); waiting.pop_front()) {
        const Claim& c = waiting.front();
        std::string key = name_key(c.name), value = holder(c.id);
        const char* argv[] = {"EVAL", script, "1", key.c_str(), value.c_str(), lease_ms_.c_str()};
        redisAsyncCommandArgv(writer_, answered, nullptr, 6, argv, nullptr);
        inflight.push_back(std::move(waiting.front()));
    }
}

void Cluster::send_claims()
{
    send_names(claims_waiting_, claims_inflight_, hold_script, on_claim);
}

void Cluster::on_claim(redisAsyncContext* c, void* r, void*)
{
    Cluster* self = answered(c, r, "EVAL (claiming a name)");
    if (!self)
        return;
    assert(!self->claims_inflight_.empty());
    Claim claim = std::move(self->claims_inflight_.front());
    self->claims_inflight_.pop_front();
    auto* reply = static_cast<redisReply*>(r);
    bool ok = reply->type == REDIS_REPLY_INTEGER && reply->integer == 0;
    if (ok)
        self->held_[claim.id] = claim.name;
    if (!claim.cancelled)
        self->on_claimed_(claim.id, claim.name, ok);
    else if (ok)
        self->release(claim.id);
}

void Cluster::release(uint64_t id)
{
    auto it = held_.find(id);
    assert(it != held_.end());
    releases_waiting_.push_back({id, std::move(it->second)});
    held_.erase(it);
}

void Cluster::send_releases()
{
    send_names(releases_waiting_, releases_inflight_, release_script, on_released);
}

void Cluster::on_released(redisAsyncContext* c, void* r, void*)
{
    Cluster* self = answered(c, r, "EVAL (releasing a name)");
    if (!self)
        return;
    assert(!self->releases_inflight_.empty());
    self->releases_inflight_.pop_front();  // 0: the lease had run out, and another has it now
}

// This node's members as Redis has them once it has run every batch sent before the
// tick: those in the room or on their way in, less what the batches not yet sent will
// change (the outbox, and everything in flight while a reconnect is being vetted).
std::set<std::string> Cluster::members_in_redis() const
{
    std::set<std::string> names;
    room_.each_member([&](const Member& m) { names.insert(m.name); });
    for (const auto& [seq, m] : arriving_)
        names.insert(m->name);
    auto undo = [&](const std::vector<std::string>& ops) {
        for (auto op = ops.rbegin(); op != ops.rend(); ++op) {
            std::string name = op->substr(1);
            if ((*op)[0] == '+')
                names.erase(name);
            else
                names.insert(name);
        }
    };
    undo(outbox_ops_);
    if (!vetted_)
        for (auto b = inflight_.rbegin(); b != inflight_.rend(); ++b)
            undo(b->ops);
    return names;
}

// One command every third of the lease, whatever the number of names and members.
void Cluster::tick()
{
    ticked_at_ = ev_now(loop_);
    // Only a node whose link has lasted a whole lease sweeps: after an outage of Redis
    // itself every lease has run out, and the others must have had the time to renew.
    bool may_sweep = ticked_at_ - up_since_ >= settings_.lease;
    std::vector<std::string> keys, args{origin_, settings_.stream, lease_ms_, std::to_string(settings_.maxlen),
                                        may_sweep ? "1" : "0"};
    for (const auto& [id, name] : held_) {
        keys.push_back(name_key(name));
        args.push_back(holder(id));
    }
    for (const std::string& name : members_in_redis())
        args.push_back(name);
    std::string count = std::to_string(keys.size());
    Args command;
    command.add("EVAL");
    command.add(tick_script);
    command.add(count);
    for (const std::vector<std::string>* part : {&keys, &args})
        for (const std::string& a : *part)
            command.add(a);
    redisAsyncCommandArgv(writer_, on_ticked, nullptr, command.count(), command.argv.data(), command.len.data());
}

void Cluster::on_ticked(redisAsyncContext* c, void* r, void*)
{
    Cluster* self = answered(c, r, "EVAL (lease tick)");
    if (!self)
        return;
    auto* reply = static_cast<redisReply*>(r);
    auto integer = [&](size_t i) {
        return i < reply->elements && reply->element[i]->type == REDIS_REPLY_INTEGER;
    };
    if (reply->type != REDIS_REPLY_ARRAY || !integer(0) || !integer(1)) {
        self->log_.write(LogLevel::error, "cluster: lease tick: unexpected reply");
        return;
    }
    if (long long taken = reply->element[0]->integer)
        self->log_.write(LogLevel::warn,
                         "cluster: %lld names of this node's members are held by another node now (the lease "
                         "ran out while Redis was away): the room has two members of each name",
                         taken);
    if (reply->element[1]->integer == 1) {
        self->fence();
        return;
    }
    if (!self->vetted_) {
        self->vetted_ = true;
        for (Batch& b : self->inflight_)
            self->send(b);
        self->flush();  // and the releases, after the leaves
        self->send_claims();
    }
    for (size_t i = 2; i + 1 < reply->elements; i += 2)
        if (is_string(reply->element[i]) && integer(i + 1))
            self->swept(reply->element[i]->str, reply->element[i + 1]->integer);
}

// A node gone without a word: its members' leaves, which nobody else would say, are in
// the stream now, and come back to every node like any entry.
void Cluster::swept(const char* origin, long long members)
{
    if (members == 0)
        log_.write(LogLevel::info, "cluster: node %s is gone (no lease renewed for %g s), with no members left",
                   origin, settings_.lease);
    else
        log_.write(LogLevel::warn,
                   "cluster: node %s renewed no lease for %g s: taken for dead; telling the room its %lld members left",
                   origin, settings_.lease, members);
}

// The other nodes took this one for dead and heard its members leave: what it says now
// would reach nobody, so it stops, and its clients find a live node.
void Cluster::fence()
{
    if (fenced_)
        return;
    fenced_ = true;
    log_.write(LogLevel::error,
               "cluster: this node was taken for dead (no lease renewed for %g s: cut off from redis, or paused), "
               "and the room was told its members left; exiting so that its clients reconnect",
               settings_.lease);
    on_fenced_();
}

uint64_t Cluster::first_unacknowledged() const
{
    if (!inflight_.empty())
        return inflight_.front().first_seq;
    return outbox_.empty() ? next_seq_ : outbox_seq_;
}

// Arrivals below `below` that are still waiting will never come back (their entries are
// gone): they are published again, in order, so their members do get in.
void Cluster::readmit(uint64_t below)
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

void Cluster::read_next()
{
    std::string block = std::to_string(std::max(1, static_cast<int>(settings_.timeout * 1000 / 2)));
    const char* argv[] = {"XREAD", "COUNT", read_count, "BLOCK", block.c_str(), "STREAMS",
                          settings_.stream.c_str(), ledger_.read_after().c_str()};
    redisAsyncCommandArgv(reader_, on_read, nullptr, 8, argv, nullptr);
}

void Cluster::on_read(redisAsyncContext* c, void* r, void*)
{
    Cluster* self = answered(c, r, "XREAD");
    if (!self)
        return;
    auto* reply = static_cast<redisReply*>(r);
    // [[stream, [entry, ...]]], or nil when the block timed out.
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1) {
        const redisReply* stream = reply->element[0];
        if (stream->type == REDIS_REPLY_ARRAY && stream->elements == 2 &&
            stream->element[1]->type == REDIS_REPLY_ARRAY)
            self->deliver(stream->element[1]);
    }
    self->read_next();
}

// Entries in stream order; the ledger says which to apply and what went missing.
void Cluster::deliver(const redisReply* entries)
{
    for (size_t i = 0; i < entries->elements; i++) {
        const redisReply* entry = entries->element[i];
        if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 || !is_string(entry->element[0]))
            continue;
        const char* id = entry->element[0]->str;
        const redisReply *origin = field(entry->element[1], "o"), *seq = field(entry->element[1], "s"),
                         *events = field(entry->element[1], "e");
        if (!is_string(origin) || !is_string(seq) || !is_string(events)) {
            // Once: a stream shared with another program would otherwise flood the log.
            log_.write(foreign_logged_ ? LogLevel::debug : LogLevel::warn,
                       "cluster: skipping entry %s of %s: not an evchat batch", id, settings_.stream.c_str());
            foreign_logged_ = true;
            continue;
        }
        std::string from(origin->str, origin->len);
        if (const redisReply* dead = field(entry->element[1], "x"); is_string(dead)) {
            std::string buried(dead->str, dead->len);
            if (buried == origin_) {
                fence();
                return;
            }
            ledger_.bury(buried);
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
            room_.apply(e, arriving);
        }
        if (n > first)
            ledger_.applied(from, n - 1);
        if (malformed)
            log_.write(LogLevel::warn, "cluster: entry %s from %s ends in bytes that are no event", id, from.c_str());
    }
}
