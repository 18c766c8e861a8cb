// Redis link: connecting both connections, retrying with backoff, the watchdog.
#include "redis_link.h"

#include "address.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cassert>
#include <cstdio>
#include <cstring>
#include <netinet/in.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <hiredis/adapters/libev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#pragma GCC diagnostic pop

namespace {

constexpr double first_backoff = 0.1;
constexpr double max_backoff = 5.0;

}  // namespace

bool is_string(const redisReply* r)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

const redisReply* field(const redisReply* fields, const char* name)
{
    if (!fields || fields->type != REDIS_REPLY_ARRAY)
        return nullptr;
    for (size_t i = 0; i + 1 < fields->elements; i += 2)
        if (is_string(fields->element[i]) && strcmp(fields->element[i]->str, name) == 0)
            return fields->element[i + 1];
    return nullptr;
}

RedisLink::RedisLink(struct ev_loop* loop, Log& log, Handler& handler, const std::string& redis, double timeout,
                     std::string context)
    : loop_(loop), log_(log), handler_(handler), redis_(redis), context_(std::move(context)), timeout_(timeout)
{
    ListenAddress where;
    std::string err;
    bool ok = parse_listen_address(redis, where, err);
    assert(ok);  // validated with the config
    (void)ok;
    // hiredis is given a numeric host, so that it never asks the name service.
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
    double tick = std::min(1.0, timeout / 4);
    ev_timer_init(&watchdog_, on_watchdog, tick, tick);
    watchdog_.data = this;
}

RedisLink::~RedisLink()
{
    ev_timer_stop(loop_, &retry_);
    ev_timer_stop(loop_, &watchdog_);
    for (redisAsyncContext* c : {writer_, reader_})
        if (c) {
            c->data = nullptr;  // its callbacks, called once more from the free, do nothing
            redisAsyncFree(c);
        }
}

void RedisLink::start()
{
    ev_timer_start(loop_, &watchdog_);
    connect();
}

void RedisLink::connect()
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

void RedisLink::on_connect(const redisAsyncContext* c, int status)
{
    auto* self = static_cast<RedisLink*>(c->data);
    if (!self)
        return;
    if (status != REDIS_OK) {
        // hiredis frees a context whose connect failed once this returns.
        (c == self->writer_ ? self->writer_ : self->reader_) = nullptr;
        self->lost(c->errstr);
        return;
    }
    if (++self->connected_ == 2)
        self->handler_.link_connected();
}

void RedisLink::mark_up()
{
    up_ = true;
    proven_ = false;
    up_since_ = ev_now(loop_);
}

void RedisLink::on_disconnect(const redisAsyncContext* c, int)
{
    auto* self = static_cast<RedisLink*>(c->data);
    if (!self)
        return;
    (c == self->writer_ ? self->writer_ : self->reader_) = nullptr;
    self->lost(c->errstr[0] ? c->errstr : "connection closed");
}

// Both connections go, whichever failed. The handler hears of it first, so that nothing
// it had in flight is forgotten.
void RedisLink::lost(const char* why)
{
    up_ = false;
    connected_ = 0;
    for (redisAsyncContext** slot : {&writer_, &reader_})
        if (*slot) {
            (*slot)->data = nullptr;
            redisAsyncFree(*slot);
            *slot = nullptr;
        }
    handler_.link_lost();
    if (ev_is_active(&retry_))
        return;
    backoff_ = backoff_ == 0 ? first_backoff : std::min(backoff_ * 2, max_backoff);
    log_.write(outage_logged_ ? LogLevel::debug : LogLevel::warn,
               "cluster: redis %s: %s; retrying in %g s (until then arrivals wait and input is paused)", redis_.c_str(),
               why, backoff_);
    outage_logged_ = true;
    ev_timer_set(&retry_, backoff_, 0.0);
    ev_timer_start(loop_, &retry_);
}

void RedisLink::on_retry(struct ev_loop*, ev_timer* w, int)
{
    static_cast<RedisLink*>(w->data)->connect();
}

// A reader's XREAD blocks for less than the timeout, so a healthy link is never silent
// that long. Only a link that has worked for a while resets the backoff and the
// once-an-outage logging: a Redis that accepts connections and refuses every command (OOM)
// is one outage, retried slowly.
void RedisLink::on_watchdog(struct ev_loop* loop, ev_timer* w, int)
{
    auto* self = static_cast<RedisLink*>(w->data);
    if (!self->writer_ && !self->reader_)
        return;
    double now = ev_now(loop);
    std::string why;
    if (now - self->last_heard_ > self->timeout_) {
        char text[48];
        snprintf(text, sizeof text, "no reply for %.1f s", now - self->last_heard_);
        why = text;
    } else {
        why = self->handler_.link_watch(now);
    }
    if (!why.empty()) {
        self->lost(why.c_str());
        return;
    }
    if (self->up_ && !self->proven_ && now - self->up_since_ >= self->timeout_) {
        self->proven_ = true;
        self->backoff_ = 0;
        self->outage_logged_ = false;
    }
}

void RedisLink::write(const RedisArgs& args, RedisCallback callback, void* privdata)
{
    send(writer_, args, callback, privdata);
}

void RedisLink::read(const RedisArgs& args, RedisCallback callback, void* privdata)
{
    send(reader_, args, callback, privdata);
}

// hiredis queues commands in its output buffer and writes them together when the loop
// polls: one round trip for everything a node says in a loop iteration.
void RedisLink::send(redisAsyncContext* c, const RedisArgs& args, RedisCallback callback, void* privdata)
{
    assert(c);
    redisAsyncCommandArgv(c, callback, privdata, static_cast<int>(args.argv.size()), const_cast<const char**>(args.argv.data()),
                          args.len.data());
}

redisReply* RedisLink::answer(redisAsyncContext* c, void* r, const char* command, const char* expected)
{
    auto* self = static_cast<RedisLink*>(c->data);
    auto* reply = static_cast<redisReply*>(r);
    if (!self || !reply)
        return nullptr;
    self->heard();
    if (reply->type != REDIS_REPLY_ERROR || (expected && strstr(reply->str, expected)))
        return reply;
    self->log_.write(self->outage_logged_ ? LogLevel::debug : LogLevel::error, "cluster: %s %s: %s", command,
                     self->context_.c_str(), reply->str);
    self->lost((std::string(command) + " failed").c_str());
    return nullptr;
}
