// HTTP server: one listening address that speaks HTTP/1.1 on the loop, one request per
// connection — its head read within a deadline, then one response and the close, or the
// socket handed on (a WebSocket upgrade). Owned by the admin or the web listener.
#pragma once

#include "address.h"
#include "connection.h"
#include "http_request.h"
#include "listener.h"
#include "log.h"
#include "held.h"
#include "proxy_gate.h"

#include <cstddef>
#include <ev.h>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

class HttpServer {
public:
    class Exchange;

    // A response: its status, type and body, and header fields beyond those every answer
    // carries (Date, Content-Type, Content-Length, Cache-Control, Connection: close).
    struct Response {
        int status = 200;
        std::string content_type = "text/plain; charset=utf-8";
        std::string body;
        std::vector<std::pair<std::string, std::string>> fields;
    };

    // The owner's side: the answer to each request (req.status is set for a malformed
    // one), or nothing after taking the socket with Exchange::hand_over().
    class Handler {
    public:
        virtual void respond(Exchange& ex, const HttpRequest& req) = 0;

    protected:
        ~Handler() = default;
    };

    // The most bytes a request head may take before the answer is 431 (or 414, 400).
    static constexpr size_t request_limit = 8 * 1024;

    // name tells the listener apart in logs ("admin", "web").
    HttpServer(Io& io, Handler& handler, std::string name);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    bool open(const std::string& configured, const ListenAddress& where, std::string& err);
    // Connections accepted by the listener go to intake (the gates) instead of take().
    using Intake = std::function<void(int fd, const sockaddr* peer)>;
    void set_intake(Intake intake) { intake_ = std::move(intake); }
    // A connection whose request is read from here: its peer's ADDR, and bytes of the
    // request that came with a PROXY header or the end of a TLS handshake.
    void take(Socket socket, std::string peer, std::string rest);
    const std::string& address() const { return listener_.address(); }
    const std::string& configured() const { return listener_.configured(); }
    // timeout bounds a connection's whole life, from accept to close; over max_connections
    // at once a newcomer is closed unanswered. Both apply to connections accepted from now on.
    void set_limits(double timeout, size_t max_connections);
    size_t connections() const { return exchanges_.size(); }
    // Accepts that failed for want of descriptors or memory.
    uint64_t exhaustions() const { return listener_.exhaustions(); }

private:
    void accept(int fd, const sockaddr* peer);

    Io& io_;
    Handler& handler_;
    std::string name_;
    double timeout_ = 5.0;
    size_t max_connections_ = 16;
    LogThrottle refusals_;
    Intake intake_;
    Held<Exchange> exchanges_;
    Listener listener_;  // last: destroyed first, so no accept reaches a half-destroyed server
};

// One request and its answer.
class HttpServer::Exchange final : public Connection {
public:
    Exchange(HttpServer& server, Socket socket, std::string peer, double timeout);

    // Sends the response, then closes within what is left of the deadline. req is logged.
    void answer(const HttpRequest& req, const Response& response);
    // Gives up the socket, for another connection to own, with whatever arrived after the
    // request head; the exchange is done.
    std::pair<Socket, std::string> hand_over();

private:
    friend class Slots<Exchange>;
    friend class HttpServer;  // take() hands it the bytes that came with the PROXY header

    size_t read_size() override { return request_limit - in_.size(); }
    bool wants_input() const override { return true; }
    void received(const char* data, size_t n) override;
    void input_ended(bool reset) override;
    void timed_out() override;
    void closed_now() override { server_.exchanges_.closed(*this); }

    HttpServer& server_;
    std::string in_;   // the request so far, at most request_limit bytes
    size_t head_ = 0;  // the head's length, once complete
    size_t slot_ = 0;
};

// The text of a whole response, for `now` (the Date field).
std::string http_response(const HttpServer::Response& r, double now);
