// Web listener: the HTTP (or HTTPS) address that serves the chat page at "/" and turns a
// WebSocket handshake at "/ws" into a chat client. Owned by the server, which takes each
// upgraded socket; one per [websocket] listen address.
#pragma once

#include "config.h"
#include "http_server.h"
#include "proxy_gate.h"
#include "tls_gate.h"

#include <functional>
#include <string>
#include <vector>

class WebListener final : private HttpServer::Handler {
public:
    // A socket whose WebSocket handshake succeeded: the socket, its peer, the bytes after
    // the request head, and the 101 answer that must be its first output.
    using Upgraded = std::function<void(Socket socket, std::string peer, std::string rest, std::string response)>;

    // proxy_rejections counts connections from trusted proxies closed for their header;
    // handshakes, the TLS handshakes by how they ended.
    WebListener(Io& io, uint64_t& proxy_rejections, TlsHandshakes& handshakes, Upgraded upgraded);

    bool open(const std::string& configured, const ListenAddress& where, std::string& err)
    {
        return http_.open(configured, where, err);
    }
    const std::string& address() const { return http_.address(); }
    const std::string& configured() const { return http_.configured(); }
    // The allow-list of Origins ([websocket] origins), the limits of a request (the time
    // to send it, and pending requests at once), and the trusted proxies; from now on. With
    // a context, new connections speak HTTPS (handshake_timeout: [tls]'s).
    void configure(const std::vector<std::string>& origins, double timeout, size_t max_pending,
                   const ProxyConfig& proxy, const TlsContext* tls, double handshake_timeout);
    uint64_t exhaustions() const { return http_.exhaustions(); }

private:
    void respond(HttpServer::Exchange& ex, const HttpRequest& req) override;
    std::string client_address(const HttpServer::Exchange& ex, const HttpRequest& req) const;
    void arrived(Socket socket, std::string addr, std::string rest);

    Upgraded upgraded_;
    std::vector<std::string> origins_;
    bool tls_ = false;
    ProxyGate gate_;
    TlsGate tls_gate_;
    HttpServer http_;  // after the gates: destroyed first, so they pass nothing to it
};

// The chat page, and the Content-Security-Policy that allows its inline script and style
// and nothing else (hashes computed from the page).
const std::string& chat_page();
const std::string& chat_page_policy();
