// Web listener: the routes, and the page built into the binary (src/page/chat.html).
#include "web.h"

#include "forwarded.h"
#include "websocket_handshake.h"

#include <charconv>

#include <openssl/evp.h>
#include <openssl/sha.h>

namespace {

const char page_html[] =
#include "chat_page.inc"
    ;

// 'sha256-BASE64' of the text between open and close in the page.
std::string inline_hash(const std::string& page, const char* open, const char* close)
{
    size_t start = page.find(open);
    start = page.find('>', start) + 1;
    size_t end = page.find(close, start);
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(page.data() + start), end - start, digest);
    unsigned char b64[4 * ((SHA256_DIGEST_LENGTH + 2) / 3) + 1];
    int n = EVP_EncodeBlock(b64, digest, SHA256_DIGEST_LENGTH);
    return "'sha256-" + std::string(reinterpret_cast<char*>(b64), static_cast<size_t>(n)) + "'";
}

}  // namespace

const std::string& chat_page()
{
    static const std::string page = page_html;
    return page;
}

const std::string& chat_page_policy()
{
    static const std::string policy = "default-src 'none'; script-src " +
                                      inline_hash(chat_page(), "<script", "</script>") + "; style-src " +
                                      inline_hash(chat_page(), "<style", "</style>") +
                                      "; connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; "
                                      "frame-ancestors 'none'";
    return policy;
}

WebListener::WebListener(Io& io, uint64_t& proxy_rejections, TlsHandshakes& handshakes, Upgraded upgraded)
    : upgraded_(std::move(upgraded)),
      gate_(io, ProxyGate::Header::optional, proxy_rejections,
            [this](Socket s, std::string peer, std::string rest) { arrived(std::move(s), std::move(peer), std::move(rest)); }),
      tls_gate_(io, handshakes,
                [this](Socket s, std::string peer, std::string rest) {
                    http_.take(std::move(s), std::move(peer), std::move(rest));
                }),
      http_(io, *this, "web")
{
    http_.set_intake([this](int fd, const sockaddr* peer) {
        if (!gate_.hold(fd, peer))
            arrived(Socket(fd), format_address(peer), {});
    });
}

void WebListener::configure(const std::vector<std::string>& origins, double timeout, size_t max_pending,
                            const ProxyConfig& proxy, const TlsContext* tls, double handshake_timeout)
{
    origins_ = origins;
    http_.set_limits(timeout, max_pending);
    gate_.configure(proxy);
    tls_ = tls != nullptr;
    tls_gate_.configure(tls, handshake_timeout, max_pending);
}

// A connection past its PROXY header, if it had one: its request next, or first its TLS
// handshake (rest is then the handshake's beginning).
void WebListener::arrived(Socket socket, std::string addr, std::string rest)
{
    if (tls_)
        tls_gate_.hold(std::move(socket), std::move(addr), std::move(rest));
    else
        http_.take(std::move(socket), std::move(addr), std::move(rest));
}

// The client's ADDR: the peer's, or, from a trusted proxy, the one its forwarding fields
// name (the port, unless Forwarded gives one, is the proxy's: ADDRs stay unique).
std::string WebListener::client_address(const HttpServer::Exchange& ex, const HttpRequest& req) const
{
    IpAddress ip;
    if (gate_.trusted().empty() || !parse_ip_of_addr(ex.peer(), ip) || !gate_.trusted().contains(ip))
        return ex.peer();
    uint16_t port = 0;
    std::string_view p = std::string_view(ex.peer()).substr(ex.peer().rfind(':') + 1);
    std::from_chars(p.data(), p.data() + p.size(), port);
    std::string forwarded = forwarded_client(req, gate_.trusted(), port);
    return forwarded.empty() ? ex.peer() : forwarded;
}

void WebListener::respond(HttpServer::Exchange& ex, const HttpRequest& req)
{
    HttpServer::Response r;
    r.status = req.status;
    if (req.status != 0) {
        r.body = std::string(req.why) + "\n";
    } else if (req.path == "/") {
        r.status = 200;
        r.content_type = "text/html; charset=utf-8";
        r.body = chat_page();
        r.fields = {{"Content-Security-Policy", chat_page_policy()},
                    {"X-Content-Type-Options", "nosniff"},
                    {"Referrer-Policy", "no-referrer"}};
    } else if (req.path == "/ws") {
        UpgradeVerdict v = check_upgrade(req, origins_, ex.tls());
        if (v.status == 0) {
            std::string addr = client_address(ex, req);
            auto [socket, rest] = ex.hand_over();
            upgraded_(std::move(socket), std::move(addr), std::move(rest), upgrade_response(v.accept));
            return;
        }
        r.status = v.status;
        r.body = std::string(v.why) + "\n";
        if (v.status == 426)
            r.fields = {{"Sec-WebSocket-Version", "13"}};
    } else {
        r.status = 404;
        r.body = "not found; the chat is at / and its WebSocket at /ws\n";
    }
    ex.answer(req, r);
}
