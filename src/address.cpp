// Socket addresses: parsing listen addresses and formatting peers the Go way.
#include "address.h"

#include <arpa/inet.h>
#include <charconv>
#include <cstring>
#include <net/if.h>
#include <netinet/in.h>

namespace {

bool parse_port(std::string_view s, uint16_t& port)
{
    unsigned value = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || value > 65535)
        return false;
    port = static_cast<uint16_t>(value);
    return true;
}

bool is_v4_mapped(const in6_addr& a)
{
    static const unsigned char prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a.s6_addr, prefix, sizeof prefix) == 0;
}

std::string format_ipv4(const unsigned char* b)
{
    char buf[INET_ADDRSTRLEN];
    snprintf(buf, sizeof buf, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
    return buf;
}

// RFC 5952, as Go's net.IP.String(): lower-case hex, the first longest run of two or
// more zero groups becomes "::". (glibc's inet_ntop differs for ::/96 addresses.)
std::string format_ipv6(const in6_addr& a)
{
    unsigned groups[8];
    for (int i = 0; i < 8; i++)
        groups[i] = (a.s6_addr[2 * i] << 8) | a.s6_addr[2 * i + 1];
    int best = -1, best_len = 0;
    for (int i = 0; i < 8;) {
        int j = i;
        while (j < 8 && groups[j] == 0)
            j++;
        if (j - i > best_len && j - i >= 2) {
            best = i;
            best_len = j - i;
        }
        i = j == i ? i + 1 : j;
    }
    std::string out;
    char hex[8];
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            out += "::";
            i += best_len - 1;
            continue;
        }
        if (!out.empty() && out.back() != ':')
            out += ':';
        snprintf(hex, sizeof hex, "%x", groups[i]);
        out += hex;
    }
    return out;
}

}  // namespace

bool parse_listen_address(std::string_view text, ListenAddress& out, std::string& err)
{
    out = ListenAddress{};
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
        err = "listen address \"" + std::string(text) + "\" has no :PORT";
        return false;
    }
    std::string_view host = text.substr(0, colon);
    uint16_t port;
    if (!parse_port(text.substr(colon + 1), port)) {
        err = "listen address \"" + std::string(text) + "\": port must be 0-65535";
        return false;
    }
    bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
    if (bracketed)
        host = host.substr(1, host.size() - 2);
    std::string h(host);
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out.addr);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.addr);
    if (h.empty()) {
        v6->sin6_family = AF_INET6;
        v6->sin6_addr = in6addr_any;
        v6->sin6_port = htons(port);
        out.len = sizeof *v6;
        out.dual_stack = true;
        return true;
    }
    if (!bracketed && (h == "localhost" || inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1)) {
        if (h == "localhost")
            v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        out.len = sizeof *v4;
        return true;
    }
    if (bracketed && inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        out.len = sizeof *v6;
        out.dual_stack = IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr);
        return true;
    }
    err = "listen address \"" + std::string(text) +
          "\": host must be an IPv4 address, an IPv6 address in brackets, localhost, or empty";
    return false;
}

std::string format_address(const sockaddr* sa)
{
    if (sa->sa_family == AF_INET) {
        auto* v4 = reinterpret_cast<const sockaddr_in*>(sa);
        return format_ipv4(reinterpret_cast<const unsigned char*>(&v4->sin_addr)) + ":" +
               std::to_string(ntohs(v4->sin_port));
    }
    if (sa->sa_family == AF_INET6) {
        auto* v6 = reinterpret_cast<const sockaddr_in6*>(sa);
        std::string port = std::to_string(ntohs(v6->sin6_port));
        if (is_v4_mapped(v6->sin6_addr))
            return format_ipv4(v6->sin6_addr.s6_addr + 12) + ":" + port;
        std::string host = format_ipv6(v6->sin6_addr);
        if (v6->sin6_scope_id != 0) {
            char ifname[IF_NAMESIZE];
            host += '%';
            host += if_indextoname(v6->sin6_scope_id, ifname) ? std::string(ifname)
                                                               : std::to_string(v6->sin6_scope_id);
        }
        return "[" + host + "]:" + port;
    }
    return "unknown:0";
}
