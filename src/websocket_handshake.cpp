// WebSocket handshake: the checks of RFC 6455 4.2.1 in order, and the accept key.
#include "websocket_handshake.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

namespace {

// The key is 16 random bytes in base64: 24 characters, the last two "==".
bool valid_key(std::string_view key)
{
    if (key.size() != 24 || key.substr(22) != "==")
        return false;
    unsigned char out[18];
    return EVP_DecodeBlock(out, reinterpret_cast<const unsigned char*>(key.data()), 24) == 18;
}

bool origin_allowed(std::string_view origin, const HttpRequest& req, const std::vector<std::string>& origins,
                    bool tls)
{
    if (origin.empty())
        return true;  // not a browser: Origin guards browsers against other sites' pages
    if (origins.empty())
        return origin == std::string(tls ? "https://" : "http://") + std::string(req.field("Host"));
    for (const std::string& allowed : origins)
        if (allowed == "*" || allowed == origin)
            return true;
    return false;
}

}  // namespace

UpgradeVerdict check_upgrade(const HttpRequest& req, const std::vector<std::string>& origins, bool tls)
{
    UpgradeVerdict v;
    auto refuse = [&](int status, const char* why) {
        v.status = status;
        v.why = why;
        return v;
    };
    if (!req.http11)
        return refuse(400, "a WebSocket handshake needs HTTP/1.1");
    if (!req.has_token("Upgrade", "websocket") || !req.has_token("Connection", "upgrade"))
        return refuse(400, "not a WebSocket upgrade (Upgrade: websocket, Connection: Upgrade)");
    if (req.field("Sec-WebSocket-Version") != "13")
        return refuse(426, "only WebSocket version 13 is served");
    if (!valid_key(req.field("Sec-WebSocket-Key")))
        return refuse(400, "Sec-WebSocket-Key is not 16 bytes in base64");
    if (!origin_allowed(req.field("Origin"), req, origins, tls))
        return refuse(403, "Origin not allowed ([websocket] origins)");
    v.accept = websocket_accept(req.field("Sec-WebSocket-Key"));
    return v;
}

std::string websocket_accept(std::string_view key)
{
    std::string input = std::string(key) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
    unsigned char out[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
    int n = EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH);
    return std::string(reinterpret_cast<char*>(out), static_cast<size_t>(n));
}

std::string upgrade_response(const std::string& accept)
{
    return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Accept: " +
           accept + "\r\n\r\n";
}
