// Redis link: a cluster node's two hiredis connections to its Redis on the loop — one
// that writes (pipelined), one that reads (one blocking XREAD at a time) — with reconnects,
// backoff, and a watchdog for a Redis that says nothing. Owned by the cluster.
#pragma once

#include "log.h"

#include <cstddef>
#include <ev.h>
#include <string>
#include <string_view>
#include <vector>

struct redisAsyncContext;
struct redisReply;

// A reply's callback: hiredis's, with the object that sent the command as privdata.
using RedisCallback = void (*)(redisAsyncContext* c, void* reply, void* privdata);

// A command's arguments as hiredis takes them, binary-safe; the strings must outlive it.
struct RedisArgs {
    std::vector<const char*> argv;
    std::vector<size_t> len;
    RedisArgs& add(std::string_view a)
    {
        argv.push_back(a.data());
        len.push_back(a.size());
        return *this;
    }
};

bool is_string(const redisReply* r);
// The value after `name` in a flat field-value array (an entry's fields, XINFO's reply).
const redisReply* field(const redisReply* fields, const char* name);

// Both connections are one link: either failing takes both down, and they come back
// together. The link is up once its user says so (mark_up), after what it checks first.
class RedisLink {
public:
    class Handler {
    public:
        // Both connections are made: the link may be vetted, then marked up.
        virtual void link_connected() = 0;
        // The link went down (and will be retried); what was in flight may be lost.
        virtual void link_lost() = 0;
        // Every watchdog tick while connected: a reason ("" for none) to take the link
        // for lost, such as a command unanswered for too long; otherwise the handler may
        // send what is due now.
        virtual std::string link_watch(double now) = 0;

    protected:
        ~Handler() = default;
    };

    // redis: "HOST:PORT", numeric (validated with the config); timeout: a link silent this
    // long is taken for lost; context names what the link is for in error lines (the stream).
    RedisLink(struct ev_loop* loop, Log& log, Handler& handler, const std::string& redis, double timeout,
              std::string context);
    ~RedisLink();
    RedisLink(const RedisLink&) = delete;
    RedisLink& operator=(const RedisLink&) = delete;

    void start();
    void mark_up();
    bool up() const { return up_; }
    double up_since() const { return up_since_; }
    double now() const { return ev_now(loop_); }
    const std::string& address() const { return redis_; }

    // Sends a command on the writing or the reading connection; the callback gets privdata.
    void write(const RedisArgs& args, RedisCallback callback, void* privdata);
    void read(const RedisArgs& args, RedisCallback callback, void* privdata);
    // The reply a callback may read: not one hiredis makes while it frees a connection (no
    // reply, or a link already let go, whose callbacks' objects may be gone too), nor an
    // error, which is logged (once an outage) and takes the link down, unless it says
    // `expected`. command names it in the log. Each callback asks first, before it
    // touches its privdata.
    static redisReply* answer(redisAsyncContext* c, void* reply, const char* command,
                              const char* expected = nullptr);
    // Takes the link down now, saying why; it is retried after the backoff.
    void lost(const char* why);

private:
    static void on_connect(const redisAsyncContext* c, int status);
    static void on_disconnect(const redisAsyncContext* c, int status);
    static void on_retry(struct ev_loop* loop, ev_timer* w, int revents);
    static void on_watchdog(struct ev_loop* loop, ev_timer* w, int revents);
    void connect();
    void send(redisAsyncContext* c, const RedisArgs& args, RedisCallback callback, void* privdata);
    void heard() { last_heard_ = ev_now(loop_); }

    struct ev_loop* loop_;
    Log& log_;
    Handler& handler_;
    std::string redis_;
    std::string context_;
    std::string host_;
    int port_ = 0;
    double timeout_;
    redisAsyncContext* writer_ = nullptr;
    redisAsyncContext* reader_ = nullptr;
    int connected_ = 0;           // of the two contexts
    bool up_ = false;
    bool proven_ = false;         // up and shown to work: only then does the backoff reset
    bool outage_logged_ = false;  // one warning per outage, not one per retry
    ev_timer retry_;
    ev_timer watchdog_;
    double backoff_ = 0;
    double last_heard_ = 0;  // the last reply from Redis, or the start of connecting
    double up_since_ = 0;
};
