// Listener: one listening socket and its accept watcher, with the backoff that keeps the
// loop from spinning when file descriptors run out. Owned by the server.
#pragma once

#include "address.h"
#include "log.h"

#include <ev.h>
#include <cstdint>
#include <functional>
#include <string>

class Listener {
public:
    // Called with each accepted socket (non-blocking, close-on-exec) and its peer.
    using AcceptFn = std::function<void(int fd, const sockaddr* peer)>;

    Listener(struct ev_loop* loop, Log& log, AcceptFn on_accept);
    ~Listener();
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    // Binds and listens; the address it got (the real port for port 0) is address(),
    // the text it was configured with is configured().
    // reuse_port: several processes may listen on the same address (SO_REUSEPORT).
    bool open(const std::string& configured, const ListenAddress& where, int backlog, bool reuse_port,
              std::string& err);
    const std::string& address() const { return address_; }
    const std::string& configured() const { return configured_; }
    // listen(2) again on the bound socket: Linux takes the new backlog in place.
    void set_backlog(int backlog);
    // Accepts that failed for want of descriptors or memory (each retry counts).
    uint64_t exhaustions() const { return exhaustions_; }

private:
    static void on_readable(struct ev_loop* loop, ev_io* w, int revents);
    static void on_backoff(struct ev_loop* loop, ev_timer* w, int revents);
    void accept_some();

    struct ev_loop* loop_;
    Log& log_;
    AcceptFn on_accept_;
    int fd_ = -1;
    std::string address_;
    std::string configured_;
    ev_io io_;
    ev_timer backoff_;
    bool exhausted_ = false;  // in an fd-exhaustion burst: logged once, not per retry
    uint64_t exhaustions_ = 0;
};
