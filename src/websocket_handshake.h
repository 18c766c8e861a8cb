// WebSocket handshake: whether an HTTP request is a valid opening handshake (RFC 6455,
// 4.2.1), whose Origin may open one, and the answer. Pure; the web listener asks it.
#pragma once

#include "http_request.h"

#include <string>
#include <string_view>
#include <vector>

struct UpgradeVerdict {
    int status = 0;        // 0: upgrade; otherwise 400, 403 or 426
    const char* why = "";  // with a status: what was wrong
    std::string accept;    // with 0: the Sec-WebSocket-Accept value
};

// The request must be GET over HTTP/1.1 with Upgrade: websocket, Connection: Upgrade, a
// Sec-WebSocket-Key of 16 bytes in base64, and Sec-WebSocket-Version: 13 (426 otherwise,
// naming 13). origins: the allow-list ([websocket] origins): empty allows only the page's
// own origin (scheme://Host), "*" any; a request without Origin (not a browser) is allowed.
UpgradeVerdict check_upgrade(const HttpRequest& req, const std::vector<std::string>& origins, bool tls);

// base64(SHA-1(key + the RFC's GUID)), with OpenSSL's libcrypto.
std::string websocket_accept(std::string_view key);

// The 101 answer that completes the handshake.
std::string upgrade_response(const std::string& accept);
