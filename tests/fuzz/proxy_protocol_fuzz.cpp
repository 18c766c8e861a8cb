// libFuzzer target: the PROXY protocol parser on arbitrary bytes, parsed as the proxy gate
// sees them arrive, prefix after prefix. It must never crash or read past what it was
// given; its verdict, once not incomplete, is final (a prefix of a good header is never
// invalid, and more bytes never undo a header); a header found is within what was read and
// the limit, and names the client its own bytes name.
#include "proxy_protocol.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cstdint>
#include <cstring>
#include <memory>
#include <netinet/in.h>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct Verdict {
    ProxyParse result;
    ProxyHeader header;
    std::string why;
};

Verdict parse(std::string_view in)
{
    // A copy in a buffer of its exact size, so that ASan sees any read past the end.
    std::unique_ptr<char[]> exact(new char[in.size() + 1]);
    memcpy(exact.get(), in.data(), in.size());
    Verdict v;
    const char* why = nullptr;
    v.result = parse_proxy_header(std::string_view(exact.get(), in.size()), v.header, why);
    if (v.result == ProxyParse::invalid || v.result == ProxyParse::absent) {
        if (why == nullptr || *why == '\0')
            __builtin_trap();  // the gate logs why
        v.why = why;
    }
    return v;
}

bool same_header(const ProxyHeader& a, const ProxyHeader& b)
{
    return a.size == b.size && a.local == b.local && memcmp(&a.source, &b.source, sizeof a.source) == 0;
}

const std::string_view v1_sig = "PROXY ";
const std::string_view v2_sig{"\r\n\r\n\0\r\nQUIT\n", 12};

bool begins_like(std::string_view in, std::string_view sig)
{
    size_t n = std::min(in.size(), sig.size());
    return in.substr(0, n) == sig.substr(0, n);
}

// A header found must be what its bytes say.
void check_done(std::string_view in, const ProxyHeader& h)
{
    // The shortest headers: "PROXY UNKNOWN\r\n" and v2's fixed 16 bytes.
    if (h.size < 15 || h.size > in.size() || h.size > proxy_header_limit)
        __builtin_trap();
    std::string_view header = in.substr(0, h.size);
    const sockaddr* sa = reinterpret_cast<const sockaddr*>(&h.source);
    if (header.substr(0, 12) == v2_sig) {
        auto b = reinterpret_cast<const uint8_t*>(header.data());
        if (h.size != 16 + ((size_t{b[14]} << 8) | b[15]))
            __builtin_trap();
        bool tcp = b[12] == 0x21 && (b[13] == 0x11 || b[13] == 0x21);
        if (h.local == tcp)
            __builtin_trap();
        if (h.local)
            return;
        if (b[13] == 0x11) {
            auto* sin = reinterpret_cast<const sockaddr_in*>(sa);
            if (sa->sa_family != AF_INET || memcmp(&sin->sin_addr, b + 16, 4) != 0 ||
                memcmp(&sin->sin_port, b + 24, 2) != 0)
                __builtin_trap();
        } else {
            auto* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
            if (sa->sa_family != AF_INET6 || memcmp(&sin6->sin6_addr, b + 16, 16) != 0 ||
                memcmp(&sin6->sin6_port, b + 48, 2) != 0)
                __builtin_trap();
        }
        return;
    }
    // v1: one line, CRLF-ended, no other LF in it.
    if (header.substr(0, 6) != v1_sig || header.size() > 107 || header.substr(header.size() - 2) != "\r\n" ||
        header.find('\n') != header.size() - 1)
        __builtin_trap();
    if (h.local) {
        if (header.substr(6, 7) != "UNKNOWN" || (header[13] != ' ' && header[13] != '\r'))
            __builtin_trap();
        return;
    }
    bool four = header.substr(6, 5) == "TCP4 ";
    if (!four && header.substr(6, 5) != "TCP6 ")
        __builtin_trap();
    // The source field, printed back, names the same address: IPv4's text is canonical (no
    // leading zeros), so it must print back exactly; IPv6's must parse to the same bytes.
    std::string_view rest = header.substr(11);
    std::string src(rest.substr(0, rest.find(' ')));
    if (four) {
        char text[INET_ADDRSTRLEN];
        auto* sin = reinterpret_cast<const sockaddr_in*>(sa);
        if (sa->sa_family != AF_INET || !inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text) || src != text)
            __builtin_trap();
    } else {
        in6_addr want;
        auto* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
        if (sa->sa_family != AF_INET6 || inet_pton(AF_INET6, src.c_str(), &want) != 1 ||
            memcmp(&want, &sin6->sin6_addr, sizeof want) != 0)
            __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    // Past the limit the gate reads nothing more; a little past it still shows the verdict.
    std::string_view in(reinterpret_cast<const char*>(data), std::min(size, proxy_header_limit + 16));

    // The prefixes the gate could see: every one up to 128 bytes (all of v1, v2's fixed
    // part and addresses), then a sample, and those around the header's end.
    std::vector<size_t> cuts;
    for (size_t n = 0; n <= in.size(); n += n < 128 ? 1 : 37)
        cuts.push_back(n);
    Verdict whole = parse(in);
    if (whole.result == ProxyParse::done)
        for (size_t n : {whole.header.size - 1, whole.header.size, whole.header.size + 1})
            if (n <= in.size())
                cuts.push_back(n);
    cuts.push_back(in.size());
    std::sort(cuts.begin(), cuts.end());

    bool decided = false;
    Verdict first;
    for (size_t n : cuts) {
        std::string_view prefix = in.substr(0, n);
        Verdict v = parse(prefix);
        if (v.result == ProxyParse::incomplete) {
            // The gate reads no more than the limit: by then there must be a verdict.
            if (decided || n >= proxy_header_limit)
                __builtin_trap();
            continue;
        }
        if (v.result == ProxyParse::absent &&
            (begins_like(prefix, v1_sig) || begins_like(prefix, v2_sig)))
            __builtin_trap();  // a header's start is never taken for plain bytes
        if (v.result == ProxyParse::done)
            check_done(prefix, v.header);
        if (!decided) {
            decided = true;
            first = v;
            continue;
        }
        if (v.result != first.result ||
            (v.result == ProxyParse::done && !same_header(v.header, first.header)))
            __builtin_trap();  // more bytes changed a verdict already given
    }
    if (!decided && whole.result != ProxyParse::incomplete)
        __builtin_trap();
    return 0;
}
