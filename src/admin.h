// Admin: the operators' HTTP listener on its own address — GET /metrics and GET /healthz,
// one request per connection, on the server's loop. Owned by the server.
#pragma once

#include "address.h"
#include "connection.h"
#include "listener.h"
#include "log.h"
#include "slots.h"

#include <cstddef>
#include <ev.h>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct HttpRequest;

class Admin {
public:
    // What the routes answer, asked at request time: the exposition text, and why the
    // server is not healthy ("" when it is).
    struct Source {
        std::function<std::string()> metrics;
        std::function<std::string()> unhealthy_reason;
    };
    // The most bytes a request head may take before the answer is 431 (or 414, 400).
    static constexpr size_t request_limit = 8 * 1024;

    Admin(Io& io, Source source);
    ~Admin();
    Admin(const Admin&) = delete;
    Admin& operator=(const Admin&) = delete;

    bool open(const std::string& configured, const ListenAddress& where, std::string& err);
    const std::string& address() const { return listener_.address(); }
    const std::string& configured() const { return listener_.configured(); }
    // timeout bounds a connection's whole life, from accept to close; over max_connections
    // at once a newcomer is closed at once. Both apply to connections accepted from now on.
    void set_limits(double timeout, size_t max_connections);

private:
    class Exchange;

    static void on_sweep(struct ev_loop* loop, ev_prepare* w, int revents);
    void accept(int fd, const sockaddr* peer);
    void respond(Exchange& c, const HttpRequest& req);

    Io& io_;
    Log& log_;
    Source source_;
    double timeout_ = 5.0;
    size_t max_connections_ = 16;
    LogThrottle refusals_;
    Slots<Exchange> exchanges_;
    std::vector<Exchange*> closed_;  // destroyed by the sweep, before the loop sleeps
    ev_prepare sweep_;
    Listener listener_;  // last: destroyed first, so no accept reaches a half-destroyed Admin
};
