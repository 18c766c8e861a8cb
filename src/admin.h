// Admin: the operators' HTTP listener on its own address — GET /metrics and GET /healthz,
// one request per connection, on the server's loop. Owned by the server.
#pragma once

#include "http_server.h"

#include <functional>
#include <string>

class Admin final : private HttpServer::Handler {
public:
    // What the routes answer, asked at request time: the exposition text, and why the
    // server is not healthy ("" when it is).
    struct Source {
        std::function<std::string()> metrics;
        std::function<std::string()> unhealthy_reason;
    };

    Admin(Io& io, Source source) : source_(std::move(source)), http_(io, *this, "admin") {}

    bool open(const std::string& configured, const ListenAddress& where, std::string& err)
    {
        return http_.open(configured, where, err);
    }
    const std::string& address() const { return http_.address(); }
    const std::string& configured() const { return http_.configured(); }
    void set_limits(double timeout, size_t max_connections) { http_.set_limits(timeout, max_connections); }

private:
    void respond(HttpServer::Exchange& ex, const HttpRequest& req) override;

    Source source_;
    HttpServer http_;
};
