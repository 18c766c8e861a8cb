// Forwarded clients: the two fields' lists of hops, and the walk from the right.
#include "forwarded.h"

#include "address.h"

#include <arpa/inet.h>
#include <charconv>
#include <cstring>
#include <netinet/in.h>
#include <strings.h>
#include <vector>

namespace {

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b)
{
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// Splits value at sep, calling f on each trimmed piece.
template <class F>
void each(std::string_view value, char sep, F f)
{
    for (;;) {
        size_t at = value.find(sep);
        f(trim(value.substr(0, at)));
        if (at == std::string_view::npos)
            return;
        value.remove_prefix(at + 1);
    }
}

// A hop's address and port: "192.0.2.1", "192.0.2.1:80", "[2001:db8::1]", "[2001:db8::1]:80".
bool parse_node(std::string_view node, IpAddress& ip, uint16_t& port, bool& has_port)
{
    has_port = false;
    std::string_view host = node, port_text;
    if (!node.empty() && node.front() == '[') {
        size_t close = node.find(']');
        if (close == std::string_view::npos)
            return false;
        host = node.substr(0, close + 1);
        if (close + 1 < node.size()) {
            if (node[close + 1] != ':')
                return false;
            port_text = node.substr(close + 2);
        }
    } else if (size_t colon = node.find(':'); colon != std::string_view::npos && node.find(':', colon + 1) == std::string_view::npos) {
        host = node.substr(0, colon);
        port_text = node.substr(colon + 1);
    }
    if (!port_text.empty()) {
        unsigned v = 0;
        auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), v);
        if (ec == std::errc() && end == port_text.data() + port_text.size() && v <= 65535) {
            port = static_cast<uint16_t>(v);
            has_port = true;
        }  // an obfuscated port ("_abc") is as good as none
    }
    return parse_ip(host, ip);
}

std::string format(const IpAddress& ip, uint16_t port)
{
    sockaddr_storage ss{};
    if (ip.v4) {
        auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, ip.bytes.data(), 4);
        sin->sin_port = htons(port);
    } else {
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, ip.bytes.data(), 16);
        sin6->sin6_port = htons(port);
    }
    return format_address(reinterpret_cast<const sockaddr*>(&ss));
}

// The hops the request's fields called name list, in order (several fields are one list);
// of Forwarded, its for= values.
std::vector<std::string_view> hops_of(const HttpRequest& req, std::string_view name)
{
    std::vector<std::string_view> hops;
    bool forwarded = iequals(name, "Forwarded");
    for (const auto& [field, value] : req.fields) {
        if (!iequals(field, name))
            continue;
        if (!forwarded) {
            each(value, ',', [&](std::string_view hop) { hops.push_back(hop); });
            continue;
        }
        each(value, ',', [&](std::string_view element) {
            each(element, ';', [&](std::string_view pair) {
                size_t eq = pair.find('=');
                if (eq == std::string_view::npos || !iequals(trim(pair.substr(0, eq)), "for"))
                    return;
                std::string_view v = trim(pair.substr(eq + 1));
                if (v.size() >= 2 && v.front() == '"' && v.back() == '"')
                    v = v.substr(1, v.size() - 2);
                hops.push_back(v);
            });
        });
    }
    return hops;
}

// The rightmost hop not in trusted (every hop trusted: the leftmost), with its port if it
// gives one, else fallback_port. False if that hop is not an IP address, or there are none.
bool choose(const std::vector<std::string_view>& hops, const IpRanges& trusted, uint16_t fallback_port,
            IpAddress& ip, uint16_t& port)
{
    for (size_t i = hops.size(); i-- > 0;) {
        bool has_port;
        if (!parse_node(hops[i], ip, port, has_port))
            return false;
        if (!has_port)
            port = fallback_port;  // not a trusted hop's, to its right
        if (!trusted.contains(ip) || i == 0)
            return true;
    }
    return false;
}

}  // namespace

std::string forwarded_client(const HttpRequest& req, const IpRanges& trusted, uint16_t fallback_port)
{
    // A proxy appends to one field or to both, and the client may have written either:
    // behind a proxy that appends only X-Forwarded-For (HAProxy's option forwardfor, nginx),
    // a Forwarded field is all the client's, and the other way round. The request cannot
    // say which field the proxy wrote, so with both there they must name the same client.
    std::vector<std::string_view> forwarded = hops_of(req, "Forwarded");
    std::vector<std::string_view> xff = hops_of(req, "X-Forwarded-For");
    IpAddress ip;
    uint16_t port = 0;
    if (!forwarded.empty()) {
        if (!choose(forwarded, trusted, fallback_port, ip, port))
            return "";
        IpAddress other;
        uint16_t other_port = 0;
        if (!xff.empty() && (!choose(xff, trusted, fallback_port, other, other_port) || !(other == ip)))
            return "";
    } else if (!choose(xff, trusted, fallback_port, ip, port)) {
        return "";
    }
    return format(ip, port);
}
