// PROXY protocol: v1's text line and v2's binary block, checked field by field.
#include "proxy_protocol.h"

#include <arpa/inet.h>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <netinet/in.h>

namespace {

constexpr std::string_view v1_signature = "PROXY ";
constexpr std::string_view v2_signature{"\r\n\r\n\0\r\nQUIT\n", 12};
constexpr size_t v1_limit = 107;  // the spec's longest line, CRLF included

// Whether in so far agrees with the start of sig (it may be shorter than sig).
bool begins(std::string_view in, std::string_view sig)
{
    size_t n = std::min(in.size(), sig.size());
    return in.substr(0, n) == sig.substr(0, n);
}

bool parse_port(std::string_view s, uint16_t& port)
{
    unsigned v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || s.size() > 5 || ec != std::errc() || end != s.data() + s.size() || v > 65535 ||
        (s.size() > 1 && s[0] == '0'))
        return false;
    port = static_cast<uint16_t>(v);
    return true;
}

// "PROXY TCP4 SRC DST SPORT DPORT\r\n", "PROXY TCP6 ...", or "PROXY UNKNOWN ...\r\n".
ProxyParse parse_v1(std::string_view in, ProxyHeader& out, const char*& why)
{
    // The line ends at its first LF, which must follow a CR: a bare LF is no line end, nor
    // part of a line (not even UNKNOWN's ignored rest), so that the verdict does not depend
    // on whether the reads were cut before the CRLF that may come after it.
    size_t lf = in.substr(0, v1_limit).find('\n');
    if (lf == std::string_view::npos) {
        if (in.size() < v1_limit)
            return ProxyParse::incomplete;
        why = "PROXY v1 line not ended by CRLF within 107 bytes";
        return ProxyParse::invalid;
    }
    if (in[lf - 1] != '\r') {  // lf >= 6: the signature has no LF
        why = "PROXY v1 line ended by a bare LF";
        return ProxyParse::invalid;
    }
    size_t crlf = lf - 1;
    std::string_view line = in.substr(v1_signature.size(), crlf - v1_signature.size());
    std::string_view f[6];
    size_t n = 0;
    while (n < 6) {
        size_t sp = line.find(' ');
        f[n++] = line.substr(0, sp);
        if (sp == std::string_view::npos)
            break;
        line.remove_prefix(sp + 1);
    }
    out.size = crlf + 2;
    if (f[0] == "UNKNOWN") {  // whatever follows is to be ignored
        out.local = true;
        return ProxyParse::done;
    }
    int family = f[0] == "TCP4" ? AF_INET : f[0] == "TCP6" ? AF_INET6 : AF_UNSPEC;
    if (family == AF_UNSPEC) {
        why = "PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN";
        return ProxyParse::invalid;
    }
    if (n != 5 || line.find(' ') != std::string_view::npos) {
        why = "PROXY v1 line does not have 4 address fields";
        return ProxyParse::invalid;
    }
    char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
    uint16_t sport, dport;
    // inet_pton reads up to a NUL: one inside a field would let the bytes after it through.
    if (f[1].size() >= sizeof src || f[2].size() >= sizeof dst || f[1].find('\0') != std::string_view::npos ||
        f[2].find('\0') != std::string_view::npos || !parse_port(f[3], sport) || !parse_port(f[4], dport)) {
        why = "PROXY v1 address or port malformed";
        return ProxyParse::invalid;
    }
    memcpy(src, f[1].data(), f[1].size());
    src[f[1].size()] = '\0';
    memcpy(dst, f[2].data(), f[2].size());
    dst[f[2].size()] = '\0';
    unsigned char scratch[sizeof(in6_addr)];
    bool ok;
    if (family == AF_INET) {
        auto* sin = reinterpret_cast<sockaddr_in*>(&out.source);
        sin->sin_family = AF_INET;
        sin->sin_port = htons(sport);
        ok = inet_pton(AF_INET, src, &sin->sin_addr) == 1 && inet_pton(AF_INET, dst, scratch) == 1;
    } else {
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.source);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(sport);
        ok = inet_pton(AF_INET6, src, &sin6->sin6_addr) == 1 && inet_pton(AF_INET6, dst, scratch) == 1;
    }
    if (!ok) {
        why = "PROXY v1 address malformed";
        return ProxyParse::invalid;
    }
    return ProxyParse::done;
}

// The 12-byte signature, version and command, family and protocol, a 16-bit length, and
// that many bytes of addresses and TLVs (skipped).
ProxyParse parse_v2(std::string_view in, ProxyHeader& out, const char*& why)
{
    if (in.size() < 16)
        return ProxyParse::incomplete;
    auto b = reinterpret_cast<const uint8_t*>(in.data());
    unsigned version = b[12] >> 4, command = b[12] & 0xf, family = b[13] >> 4, protocol = b[13] & 0xf;
    size_t len = (size_t{b[14]} << 8) | b[15];
    if (version != 2 || command > 1) {
        why = "PROXY v2 version or command unknown";
        return ProxyParse::invalid;
    }
    // The spec: families past AF_UNIX and protocols past DGRAM "must be rejected as invalid
    // by receivers". LOCAL ignores the byte altogether.
    if (command == 1 && (family > 3 || protocol > 2)) {
        why = "PROXY v2 address family or protocol unknown";
        return ProxyParse::invalid;
    }
    if (16 + len > proxy_header_limit) {
        why = "PROXY v2 header too long";
        return ProxyParse::invalid;
    }
    if (in.size() < 16 + len)
        return ProxyParse::incomplete;
    out.size = 16 + len;
    const uint8_t* addr = b + 16;
    bool stream = protocol == 1;
    if (command == 0 || !stream || (family != 1 && family != 2)) {  // LOCAL, UNSPEC, UNIX, UDP
        out.local = true;
        return ProxyParse::done;
    }
    if (family == 1) {
        if (len < 12) {
            why = "PROXY v2 IPv4 addresses truncated";
            return ProxyParse::invalid;
        }
        auto* sin = reinterpret_cast<sockaddr_in*>(&out.source);
        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, addr, 4);
        memcpy(&sin->sin_port, addr + 8, 2);
    } else {
        if (len < 36) {
            why = "PROXY v2 IPv6 addresses truncated";
            return ProxyParse::invalid;
        }
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.source);
        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, addr, 16);
        memcpy(&sin6->sin6_port, addr + 32, 2);
    }
    return ProxyParse::done;
}

}  // namespace

ProxyParse parse_proxy_header(std::string_view in, ProxyHeader& out, const char*& why)
{
    out = ProxyHeader{};
    if (in.empty())
        return ProxyParse::incomplete;
    if (begins(in, v2_signature))
        return in.size() < v2_signature.size() ? ProxyParse::incomplete : parse_v2(in, out, why);
    if (begins(in, v1_signature))
        return in.size() < v1_signature.size() ? ProxyParse::incomplete : parse_v1(in, out, why);
    why = "no PROXY header";
    return ProxyParse::absent;
}
