// Forwarded clients: the address an HTTP proxy chain names in Forwarded (RFC 7239) or
// X-Forwarded-For, believed only from trusted proxies. Pure; the web listener asks it.
#pragma once

#include "http_request.h"
#include "ip_range.h"

#include <cstdint>
#include <string>

// The client as ADDR: the rightmost hop of the request's Forwarded "for=" values (or,
// without a Forwarded field, of X-Forwarded-For) that is not itself in trusted, with the
// port the hop gives or else fallback_port. Every hop trusted: the leftmost. With both
// fields, they must choose the same address (the client may have written either one). ""
// when neither field is there, the hop chosen is not an IP address ("unknown", "_hidden"),
// or the two fields disagree.
std::string forwarded_client(const HttpRequest& req, const IpRanges& trusted, uint16_t fallback_port);
