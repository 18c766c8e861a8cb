// Admin: the operators' HTTP listener on its own address — GET /metrics and GET /healthz,
// one request per connection, on the server's loop. Owned by the server.
#pragma once

#include "address.h"
#include "listener.h"
#include "log.h"

#include <cstddef>
#include <ev.h>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

// The request as far as it was understood, and the status it earns.
struct AdminRequest {
    int status = 0;        // 0: a GET of path, to be routed; otherwise the error to send
    std::string method;
    std::string path;      // without the query
    std::string line;      // the request line, for the log
    const char* why = "";  // with an error status: what was wrong, for the answer and the log
};

// Parses the head of an HTTP/1.x request (request line and header fields) in text, which
// holds what has arrived so far. Returns false while more bytes could complete it, true
// once req is final: a GET to route, or an error status (400, 405, 414, 431, 505).
// limit: the most bytes a head may take.
bool parse_admin_request(std::string_view text, size_t limit, AdminRequest& req);

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

    Admin(struct ev_loop* loop, Log& log, Source source);
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
    class Connection;

    void accept(int fd, const sockaddr* peer);
    // May destroy c (an answer written at once ends in remove()): the caller touches c no
    // more, so calling it is the last thing each caller does.
    void respond(Connection& c, const AdminRequest& req);
    // c is done: unlinked and destroyed. The caller must not touch c afterwards.
    void remove(Connection& c);

    struct ev_loop* loop_;
    Log& log_;
    Source source_;
    double timeout_ = 5.0;
    size_t max_connections_ = 16;
    LogThrottle refusals_;
    std::vector<std::unique_ptr<Connection>> connections_;
    Listener listener_;  // last: destroyed first, so no accept reaches a half-destroyed Admin
};
