// PROXY protocol, versions 1 and 2 (HAProxy's spec): the header a load balancer sends
// first, naming the client it forwards. Pure; the proxy gate reads it off each connection.
#pragma once

#include <cstddef>
#include <string_view>
#include <sys/socket.h>

struct ProxyHeader {
    size_t size = 0;            // the header's bytes, from the start of the input
    bool local = false;         // no client named (LOCAL, UNKNOWN, a non-TCP family): the
                                // balancer speaks for itself, and the connection's own
                                // address stands
    sockaddr_storage source{};  // the client, unless local
};

enum class ProxyParse { incomplete, absent, invalid, done };

// The most bytes a header may take: v1's 107, or v2's 16 plus addresses and TLVs, which a
// balancer keeps well under this.
constexpr size_t proxy_header_limit = 16 + 2048;

// Parses the header at the start of in (the bytes that arrived so far). incomplete: more
// bytes could complete it; absent: in begins with neither version's signature; invalid:
// a header, but why says what is wrong with it.
ProxyParse parse_proxy_header(std::string_view in, ProxyHeader& out, const char*& why);
