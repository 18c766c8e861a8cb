// Cluster link: XADD pipelines out, one XREAD BLOCK in, reconnection with backoff, a
// watchdog for a silent Redis, and the bookkeeping that makes a resend harmless.
#include "cluster.h"

#include "address.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cassert>
#include <cinttypes>
#include <cstdio>
#include <cstring>
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
constexpr const char* read_count = "256";  // entries per XREAD, each a batch of events
// A batch this big goes out at once rather than at the end of the loop iteration, so
// that one entry stays a modest reply for the readers.
constexpr size_t batch_limit = 256 * 1024;

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

// Stream IDs "MS-SEQ" in their numeric order.
bool id_less(const char* a, const char* b)
{
    unsigned long long ams = 0, aseq = 0, bms = 0, bseq = 0;
    sscanf(a, "%llu-%llu", &ams, &aseq);
    sscanf(b, "%llu-%llu", &bms, &bseq);
    return ams < bms || (ams == bms && aseq < bseq);
}

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

Cluster::Cluster(struct ev_loop* loop, Settings settings, Log& log, Broadcaster& room,
                 std::function<void(bool up)> on_link)
    : loop_(loop), settings_(std::move(settings)), log_(log), room_(room), on_link_(std::move(on_link))
{
    if (settings_.node.empty())
        settings_.node = default_node_name();
    origin_ = settings_.node + "/" + incarnation();
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
    // Where the stream stands decides where reading resumes (see resume()).
    const char* argv[] = {"XINFO", "STREAM", self->settings_.stream.c_str()};
    redisAsyncCommandArgv(self->reader_, on_info, nullptr, 3, argv, nullptr);
}

void Cluster::on_info(redisAsyncContext* c, void* r, void*)
{
    auto* reply = static_cast<redisReply*>(r);
    if (c->data && reply && reply->type == REDIS_REPLY_ERROR && strstr(reply->str, "no such key")) {
        auto* self = static_cast<Cluster*>(c->data);
        self->heard();
        self->resume("0-0", nullptr, nullptr);  // nobody has said anything yet
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
    const redisReply* deleted = field(reply, "max-deleted-entry-id");  // Redis 7 and later
    const redisReply* first = field(reply, "first-entry");               // nil when empty
    bool has_first = first && first->type == REDIS_REPLY_ARRAY && first->elements == 2 && is_string(first->element[0]);
    self->resume(last->str, is_string(deleted) ? deleted->str : nullptr, has_first ? first->element[0]->str : nullptr);
}

// First contact reads from the stream's end: this node's first entries come after it.
// Later, reading goes on after the last entry applied, unless Redis has lost the stream
// (restarted without its data): then what it holds is all new, and read from its start.
// The stream says which: entries after ours deleted means they were trimmed before this
// node read them; ours gone while nothing at or after it was deleted means a new stream.
void Cluster::resume(const char* last_generated, const char* max_deleted, const char* first_entry)
{
    if (last_id_.empty()) {
        last_id_ = last_generated;
    } else if (last_id_ != "0-0") {
        const char* at = last_id_.c_str();
        bool reset = id_less(last_generated, at) ||
                     (first_entry && max_deleted && id_less(at, first_entry) && id_less(max_deleted, at));
        if (reset) {
            log_.write(LogLevel::error,
                       "cluster: stream %s is not the one this node read up to %s: Redis lost its data, and "
                       "with it what it had not yet delivered here; reading the new stream from its start",
                       settings_.stream.c_str(), at);
            last_id_ = "0-0";
        } else if (max_deleted && id_less(at, max_deleted)) {
            log_.write(LogLevel::error,
                       "cluster: stream %s was trimmed up to %s while this node was at %s: entries were lost "
                       "here (raise [cluster] maxlen)",
                       settings_.stream.c_str(), max_deleted, at);
        }
    }
    up_ = true;
    backoff_ = 0;
    outage_logged_ = false;
    log_.write(LogLevel::info, "cluster: redis %s up, reading %s after %s", settings_.redis.c_str(),
               settings_.stream.c_str(), last_id_.c_str());
    for (const Batch& b : inflight_)
        send(b);
    flush();
    read_next();
    on_link_(true);
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
    connected_ = 0;
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
        on_link_(false);
}

void Cluster::on_retry(struct ev_loop*, ev_timer* w, int)
{
    static_cast<Cluster*>(w->data)->connect();
}

// XREAD blocks for less than the timeout, so a healthy link is never silent that long.
void Cluster::on_watchdog(struct ev_loop* loop, ev_timer* w, int)
{
    auto* self = static_cast<Cluster*>(w->data);
    if (!self->writer_ && !self->reader_)
        return;
    double silent = ev_now(loop) - self->last_heard_;
    if (silent > self->settings_.timeout) {
        char why[64];
        snprintf(why, sizeof why, "no reply for %.1f s", silent);
        self->lost(why);
    }
}

void Cluster::publish(const RoomEvent& e, Member* arriving)
{
    uint64_t seq = next_seq_++;
    if (outbox_.empty())
        outbox_seq_ = seq;
    append_event(outbox_, e);
    if (arriving)
        arriving_[seq] = arriving;
    if (outbox_.size() >= batch_limit)
        flush();
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
    if (!up_ || outbox_.empty())
        return;
    inflight_.push_back({outbox_seq_, std::move(outbox_)});
    outbox_.clear();
    send(inflight_.back());
}

// hiredis queues commands in its output buffer and writes them together when the loop
// polls: one round trip for everything this node said in a loop iteration.
void Cluster::send(const Batch& b)
{
    std::string maxlen = std::to_string(settings_.maxlen), seq = std::to_string(b.first_seq);
    const char* argv[] = {"XADD", settings_.stream.c_str(), "MAXLEN", "~", maxlen.c_str(), "*",
                          "o", origin_.c_str(), "s", seq.c_str(), "e", b.events.data()};
    size_t len[] = {4, settings_.stream.size(), 6, 1, maxlen.size(), 1,
                    1, origin_.size(), 1, seq.size(), 1, b.events.size()};
    redisAsyncCommandArgv(writer_, on_added, nullptr, 12, argv, len);
}

// The cluster a reply is for, if the reply is one to read: not for the callbacks hiredis
// makes while it frees a context (no reply, or a context already let go), nor for an
// error, which is logged and takes the link down.
Cluster* Cluster::answered(redisAsyncContext* c, void* r, const char* command)
{
    auto* self = static_cast<Cluster*>(c->data);
    auto* reply = static_cast<redisReply*>(r);
    if (!self || !reply)
        return nullptr;
    self->heard();
    if (reply->type != REDIS_REPLY_ERROR)
        return self;
    self->log_.write(LogLevel::error, "cluster: %s %s: %s", command, self->settings_.stream.c_str(), reply->str);
    self->lost((std::string(command) + " failed").c_str());
    return nullptr;
}

void Cluster::on_added(redisAsyncContext* c, void* r, void*)
{
    Cluster* self = answered(c, r, "XADD");
    if (!self)
        return;
    assert(!self->inflight_.empty());
    self->inflight_.pop_front();
}

void Cluster::read_next()
{
    std::string block = std::to_string(std::max(1, static_cast<int>(settings_.timeout * 1000 / 2)));
    const char* argv[] = {"XREAD", "COUNT", read_count, "BLOCK", block.c_str(), "STREAMS",
                          settings_.stream.c_str(), last_id_.c_str()};
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

// Entries in stream order; within one origin, batches in the order it sent them. A batch
// sent again after a reconnect, that had landed the first time, is seen twice: the second
// one starts at a sequence number already applied, and is skipped.
void Cluster::deliver(const redisReply* entries)
{
    for (size_t i = 0; i < entries->elements; i++) {
        const redisReply* entry = entries->element[i];
        if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 || !is_string(entry->element[0]))
            continue;
        last_id_ = entry->element[0]->str;
        const redisReply *origin = field(entry->element[1], "o"), *seq = field(entry->element[1], "s"),
                         *events = field(entry->element[1], "e");
        if (!is_string(origin) || !is_string(seq) || !is_string(events)) {
            log_.write(LogLevel::warn, "cluster: skipping entry %s: not an evchat batch", last_id_.c_str());
            continue;
        }
        uint64_t first = strtoull(seq->str, nullptr, 10);
        std::string_view from(origin->str, origin->len);
        bool mine = from == origin_;
        uint64_t& applied = applied_[std::string(from)];
        if (first <= applied)
            continue;
        std::string_view rest(events->str, events->len);
        RoomEvent e;
        bool malformed = false;
        for (uint64_t n = first; next_event(rest, e, malformed); n++) {
            Member* arriving = nullptr;
            if (mine && e.kind == RoomEvent::Kind::arrival) {
                auto it = arriving_.find(n);
                if (it != arriving_.end()) {
                    arriving = it->second;
                    arriving_.erase(it);
                }
            }
            room_.apply(e, arriving);
            applied = n;
        }
        if (malformed)
            log_.write(LogLevel::warn, "cluster: entry %s from %s ends in bytes that are no event", last_id_.c_str(),
                       origin->str);
    }
}
