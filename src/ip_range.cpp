// IP addresses and ranges: parsing with inet_pton, matching by prefix bits.
#include "ip_range.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <charconv>
#include <cstring>

namespace {

constexpr uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// Whether a and b agree in their first `bits` bits.
bool same_prefix(const uint8_t* a, const uint8_t* b, unsigned bits)
{
    size_t whole = bits / 8;
    if (memcmp(a, b, whole) != 0)
        return false;
    unsigned rest = bits % 8;
    if (rest == 0)
        return true;
    uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

size_t IpAddressHash::operator()(const IpAddress& a) const
{
    // FNV-1a over the bytes that matter: cheap, and the table bounds its size anyway.
    size_t h = a.v4 ? 0x811c9dc5u : 0x01000193u;
    for (size_t i = 0; i < (a.v4 ? 4u : 16u); i++)
        h = (h ^ a.bytes[i]) * 0x100000001b3ull;
    return h;
}

bool parse_ip(std::string_view text, IpAddress& out)
{
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']')
        text = text.substr(1, text.size() - 2);
    if (size_t zone = text.find('%'); zone != std::string_view::npos)
        text = text.substr(0, zone);
    char buf[INET6_ADDRSTRLEN];
    // inet_pton reads up to a NUL: "10.0.0.1\0junk" must not pass for 10.0.0.1.
    if (text.empty() || text.size() >= sizeof buf || text.find('\0') != std::string_view::npos)
        return false;
    memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    out = IpAddress{};
    if (inet_pton(AF_INET, buf, out.bytes.data()) == 1)
        return true;
    if (inet_pton(AF_INET6, buf, out.bytes.data()) != 1)
        return false;
    if (memcmp(out.bytes.data(), v4_mapped_prefix, sizeof v4_mapped_prefix) == 0) {
        memmove(out.bytes.data(), out.bytes.data() + 12, 4);
        memset(out.bytes.data() + 4, 0, 12);
        return true;
    }
    out.v4 = false;
    return true;
}

bool parse_ip_of_addr(std::string_view addr, IpAddress& out)
{
    size_t colon = addr.rfind(':');
    return colon != std::string_view::npos && parse_ip(addr.substr(0, colon), out);
}

bool IpRanges::parse(const std::vector<std::string>& texts, IpRanges& out, std::string& err)
{
    out.ranges_.clear();
    for (const std::string& text : texts) {
        std::string_view s = text;
        size_t slash = s.find('/');
        Range r;
        bool ok = parse_ip(s.substr(0, slash), r.base) && s.find('%') == std::string_view::npos;
        unsigned limit = r.base.v4 ? 32 : 128;
        r.bits = limit;
        if (ok && slash != std::string_view::npos) {
            std::string_view bits = s.substr(slash + 1);
            auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), r.bits);
            ok = !bits.empty() && ec == std::errc() && end == bits.data() + bits.size() && r.bits <= limit;
        }
        if (!ok) {
            err = "\"" + text + "\" is not an address or a CIDR range (\"10.0.0.0/8\", \"2001:db8::/32\")";
            return false;
        }
        IpAddress masked{};
        masked.v4 = r.base.v4;
        for (unsigned i = 0; i < r.bits; i++)
            masked.bytes[i / 8] |= r.base.bytes[i / 8] & (0x80 >> (i % 8));
        if (!(masked == r.base)) {
            err = "\"" + text + "\" has bits set past its prefix length";
            return false;
        }
        out.ranges_.push_back(r);
    }
    return true;
}

bool IpRanges::contains(const IpAddress& a) const
{
    for (const Range& r : ranges_)
        if (r.base.v4 == a.v4 && same_prefix(r.base.bytes.data(), a.bytes.data(), r.bits))
            return true;
    return false;
}

bool ip_of(const sockaddr* sa, IpAddress& out)
{
    out = IpAddress{};
    if (sa->sa_family == AF_INET) {
        memcpy(out.bytes.data(), &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
        return true;
    }
    if (sa->sa_family != AF_INET6)
        return false;
    const uint8_t* b = reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr.s6_addr;
    if (memcmp(b, v4_mapped_prefix, sizeof v4_mapped_prefix) == 0) {
        memcpy(out.bytes.data(), b + 12, 4);
        return true;
    }
    out.v4 = false;
    memcpy(out.bytes.data(), b, 16);
    return true;
}
