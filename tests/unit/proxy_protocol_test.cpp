// PROXY protocol: v1 lines and v2 blocks as HAProxy's doc/proxy-protocol.txt specifies them,
// every field broken in turn, and every prefix of a good header (the gate reads it in pieces).
#include "proxy_protocol.h"

#include "address.h"

#include <cstdint>
#include <doctest/doctest.h>
#include <string>
#include <vector>

namespace {

struct Parsed {
    ProxyParse result;
    ProxyHeader header;
    std::string why;
};

Parsed parse(std::string_view in)
{
    Parsed p;
    const char* why = "";
    p.result = parse_proxy_header(in, p.header, why);
    p.why = why;
    return p;
}

// The client a done header names, as ADDR prints it.
std::string client(const ProxyHeader& h)
{
    return format_address(reinterpret_cast<const sockaddr*>(&h.source));
}

// Every strict prefix of a good header must ask for more: the gate sees it in pieces.
void check_prefixes_incomplete(const std::string& header)
{
    for (size_t n = 0; n < header.size(); n++) {
        CAPTURE(n);
        CHECK(parse(header.substr(0, n)).result == ProxyParse::incomplete);
    }
}

std::string v1(const std::vector<std::string>& fields)
{
    std::string line = "PROXY";
    for (const std::string& f : fields)
        line += " " + f;
    return line + "\r\n";
}

const std::string v2_sig("\r\n\r\n\0\r\nQUIT\n", 12);

// A v2 block: signature, version/command, family/protocol, length, body.
std::string v2(uint8_t ver_cmd, uint8_t fam, const std::string& body, size_t len)
{
    std::string h = v2_sig;
    h += static_cast<char>(ver_cmd);
    h += static_cast<char>(fam);
    h += static_cast<char>(len >> 8);
    h += static_cast<char>(len & 0xff);
    return h + body;
}
std::string v2(uint8_t ver_cmd, uint8_t fam, const std::string& body)
{
    return v2(ver_cmd, fam, body, body.size());
}

std::string bytes(std::initializer_list<int> b)
{
    std::string s;
    for (int c : b)
        s += static_cast<char>(c);
    return s;
}

// 192.0.2.1:56324 -> 198.51.100.2:443
const std::string tcp4_block = bytes({192, 0, 2, 1, 198, 51, 100, 2, 0xdc, 0x04, 0x01, 0xbb});
// [2001:db8::1]:443 -> [2001:db8::2]:8000
const std::string tcp6_block = bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                                      0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
                                      0x01, 0xbb, 0x1f, 0x40});

}  // namespace

TEST_CASE("v1 TCP4: the client and the header's size, the client's bytes left after it")
{
    std::string h = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
    Parsed p = parse(h + "hello\n");
    REQUIRE(p.result == ProxyParse::done);
    CHECK(p.header.size == h.size());
    CHECK(!p.header.local);
    CHECK(client(p.header) == "192.168.0.1:56324");
    CHECK((h + "hello\n").substr(p.header.size) == "hello\n");
    check_prefixes_incomplete(h);
}

TEST_CASE("v1 TCP6, and the longest TCP6 line (104 bytes)")
{
    std::string h = "PROXY TCP6 2001:db8::1 2001:db8::2 65535 0\r\n";
    Parsed p = parse(h);
    REQUIRE(p.result == ProxyParse::done);
    CHECK(p.header.size == h.size());
    CHECK(client(p.header) == "[2001:db8::1]:65535");
    check_prefixes_incomplete(h);

    std::string full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe";
    std::string longest = v1({"TCP6", full, full, "65535", "65535"});
    REQUIRE(longest.size() == 104);
    p = parse(longest + "x");
    REQUIRE(p.result == ProxyParse::done);
    CHECK(p.header.size == 104);
    CHECK(client(p.header) == "[" + full + "]:65535");
}

TEST_CASE("v1 ports 0 and 65535 are in range")
{
    Parsed p = parse("PROXY TCP4 10.0.0.1 10.0.0.2 0 65535\r\n");
    REQUIRE(p.result == ProxyParse::done);
    CHECK(client(p.header) == "10.0.0.1:0");
}

TEST_CASE("v1 UNKNOWN: local, whatever follows it on the line ignored, up to 107 bytes")
{
    Parsed p = parse("PROXY UNKNOWN\r\nhi\n");
    REQUIRE(p.result == ProxyParse::done);
    CHECK(p.header.local);
    CHECK(p.header.size == 15);
    check_prefixes_incomplete("PROXY UNKNOWN\r\n");

    p = parse("PROXY UNKNOWN not even addresses\r\n");
    REQUIRE(p.result == ProxyParse::done);
    CHECK(p.header.local);

    std::string full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    std::string worst = v1({"UNKNOWN", full, full, "65535", "65535"});
    REQUIRE(worst.size() == 107);  // the spec's worst case
    p = parse(worst);
    REQUIRE(p.result == ProxyParse::done);
    CHECK(p.header.size == 107);
    check_prefixes_incomplete(worst);
}

TEST_CASE("v1: every field malformed in turn is invalid")
{
    const std::vector<std::string> good4 = {"TCP4", "192.168.0.1", "192.168.0.11", "56324", "443"};
    const std::vector<std::string> good6 = {"TCP6", "2001:db8::1", "2001:db8::2", "56324", "443"};
    REQUIRE(parse(v1(good4)).result == ProxyParse::done);
    REQUIRE(parse(v1(good6)).result == ProxyParse::done);
    const std::vector<std::vector<std::string>> bad4 = {
        {"TCP5", "tcp4", "UDP4", "TCP", "", "UNKNOWNX", "TCP4X"},
        {"192.168.0.256", "192.168.0", "192.168.0.1.1", "192.168.00.1", "2001:db8::1", "", "a.b.c.d", "192.168.0.1/8"},
        {"192.168.0.256", "192.168.0", "192.168.01.11", "::1", "", "localhost"},
        {"65536", "99999", "123456", "-1", "+1", "0443", "00", "", "1a", "0x1bb", " 1"},
        {"65536", "-1", "0443", "", "443 ", "4 43"},
    };
    for (size_t field = 0; field < bad4.size(); field++)
        for (const std::string& bad : bad4[field]) {
            std::vector<std::string> f = good4;
            f[field] = bad;
            CAPTURE(v1(f));
            CHECK(parse(v1(f)).result == ProxyParse::invalid);
        }
    const std::vector<std::vector<std::string>> bad6 = {
        {"TCP46", "tcp6"},
        {"2001:db8::g", "192.168.0.1", "2001:db8:::1", "", "[2001:db8::1]", "fe80::1%eth0"},
        {"2001:db8::g", "192.168.0.11", "", "[2001:db8::2]"},
        {"65536", "0443"},
        {"65536", "0443"},
    };
    for (size_t field = 0; field < bad6.size(); field++)
        for (const std::string& bad : bad6[field]) {
            std::vector<std::string> f = good6;
            f[field] = bad;
            CAPTURE(v1(f));
            CHECK(parse(v1(f)).result == ProxyParse::invalid);
        }
}

TEST_CASE("v1: a NUL inside an address field is invalid, not the end of the address (from the fuzzer)")
{
    using namespace std::string_literals;
    CHECK(parse("PROXY TCP4 192.16.0.1\0\0\xea 192.168.0.11 5624 443\r\n"s).result == ProxyParse::invalid);
    CHECK(parse("PROXY TCP4 192.16.0.1 192.168.0.11\0x 5624 443\r\n"s).result == ProxyParse::invalid);
    CHECK(parse("PROXY TCP6 ::1\0 ::2 5624 443\r\n"s).result == ProxyParse::invalid);
    CHECK(parse("PROXY TCP4 192.16.0.1 192.168.0.11 56\0 443\r\n"s).result == ProxyParse::invalid);
}

TEST_CASE("v1: fields missing, extra, or not separated by exactly one space are invalid")
{
    for (const char* line : {
             "PROXY TCP4 192.168.0.1 192.168.0.11 56324\r\n",            // 3 address fields
             "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443 1\r\n",      // 5
             "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443 \r\n",       // trailing space
             "PROXY TCP4  192.168.0.1 192.168.0.11 56324 443\r\n",       // two spaces
             "PROXY  TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
             "PROXY TCP4\t192.168.0.1 192.168.0.11 56324 443\r\n",       // a tab
             "PROXY TCP4\r\n",
             "PROXY \r\n",
         }) {
        CAPTURE(line);
        Parsed p = parse(line);
        CHECK(p.result == ProxyParse::invalid);
        CHECK(p.why != "");
    }
}

TEST_CASE("v1: a line ends with CRLF only, within 107 bytes")
{
    std::string body = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443";
    // A bare LF ends nothing: the line is invalid, at once.
    CHECK(parse(body + "\n").result == ProxyParse::invalid);
    CHECK(parse(body + "\nhello\r\n").result == ProxyParse::invalid);
    // A bare CR then the client's line: the LF comes without its CR.
    CHECK(parse(body + "\rhello\n").result == ProxyParse::invalid);
    // UNKNOWN ignores the rest of its line, but a bare LF still is not part of one: what the
    // whole input gets must not depend on where the reads were cut (the prefix up to the LF
    // alone is invalid).
    CHECK(parse("PROXY UNKNOWN x\n").result == ProxyParse::invalid);
    CHECK(parse("PROXY UNKNOWN x\ny\r\n").result == ProxyParse::invalid);
    // No CRLF yet: more may come, until 107 bytes have.
    std::string no_end = "PROXY UNKNOWN " + std::string(106 - 14, 'a');
    REQUIRE(no_end.size() == 106);
    CHECK(parse(no_end).result == ProxyParse::incomplete);
    CHECK(parse(no_end + "a").result == ProxyParse::invalid);
    CHECK(parse(no_end + "\r").result == ProxyParse::invalid);    // the LF would be the 108th byte
    CHECK(parse(no_end + "\r\n").result == ProxyParse::invalid);  // a 108-byte line
    CHECK(parse(std::string(no_end, 0, 105) + "\r\n").result == ProxyParse::done);  // 107
    // A TCP4 line cannot be that long, but it is refused for its length first all the same.
    CHECK(parse(body + std::string(200, ' ')).result == ProxyParse::invalid);
}

TEST_CASE("no PROXY header: absent as soon as a byte says so, not invalid")
{
    for (const char* in : {"hello\n", "GET / HTTP/1.1\r\n", "PROXZ", "PROX ", "PROXYX", "PROXY\r\n",
                           "PROXYTCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
                           "proxy TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", "\r\n\r\n\x01", "\r\nQUIT"}) {
        CAPTURE(in);
        Parsed p = parse(in);
        CHECK(p.result == ProxyParse::absent);
        CHECK(p.why != "");
    }
    CHECK(parse("").result == ProxyParse::incomplete);
    CHECK(parse("P").result == ProxyParse::incomplete);
    CHECK(parse("PROXY").result == ProxyParse::incomplete);
    CHECK(parse("\r").result == ProxyParse::incomplete);
    CHECK(parse(v2_sig.substr(0, 11)).result == ProxyParse::incomplete);
}

TEST_CASE("v2 LOCAL: the connection's own address stands; the length is skipped whatever the family")
{
    Parsed p = parse(v2(0x20, 0x00, "") + "hi");
    REQUIRE(p.result == ProxyParse::done);
    CHECK(p.header.local);
    CHECK(p.header.size == 16);
    // "Receivers MUST always consider this field to skip the appropriate number of bytes."
    p = parse(v2(0x20, 0x11, tcp4_block) + "hi");
    REQUIRE(p.result == ProxyParse::done);
    CHECK(p.header.local);
    CHECK(p.header.size == 28);
    // LOCAL ignores the family byte, even one unassigned.
    p = parse(v2(0x20, 0xff, ""));
    REQUIRE(p.result == ProxyParse::done);
    CHECK(p.header.local);
}

TEST_CASE("v2 PROXY TCP4 and TCP6: the source address and port")
{
    std::string h = v2(0x21, 0x11, tcp4_block);
    Parsed p = parse(h + "hello\n");
    REQUIRE(p.result == ProxyParse::done);
    CHECK(!p.header.local);
    CHECK(p.header.size == 28);
    CHECK(client(p.header) == "192.0.2.1:56324");
    check_prefixes_incomplete(h);

    h = v2(0x21, 0x21, tcp6_block);
    p = parse(h + "hello\n");
    REQUIRE(p.result == ProxyParse::done);
    CHECK(p.header.size == 52);
    CHECK(client(p.header) == "[2001:db8::1]:443");
    check_prefixes_incomplete(h);
}

TEST_CASE("v2 UNSPEC, UNIX and UDP: accepted as local (the spec's fallback to UNSPEC)")
{
    struct Case {
        uint8_t fam;
        size_t len;
    };
    for (Case c : {Case{0x00, 0}, Case{0x00, 12}, Case{0x10, 12}, Case{0x20, 36}, Case{0x12, 12},
                   Case{0x22, 36}, Case{0x31, 216}, Case{0x32, 216}, Case{0x30, 216}}) {
        CAPTURE(int(c.fam));
        std::string h = v2(0x21, c.fam, std::string(c.len, '\x7f'));
        Parsed p = parse(h + "x");
        REQUIRE(p.result == ProxyParse::done);
        CHECK(p.header.local);
        CHECK(p.header.size == h.size());
    }
}

TEST_CASE("v2 PROXY with a family or protocol the spec leaves unassigned is invalid")
{
    // "other values are unspecified ... and must be rejected as invalid by receivers"
    for (uint8_t fam : {0x41, 0x51, 0xf1, 0x13, 0x1f, 0x23, 0x03, 0x33}) {
        CAPTURE(int(fam));
        CHECK(parse(v2(0x21, fam, std::string(36, '\0'))).result == ProxyParse::invalid);
    }
}

TEST_CASE("v2 TLVs after the addresses are skipped")
{
    std::string tlvs = bytes({0x01, 0x00, 0x02, 'h', '2',  // ALPN
                              0x04, 0x00, 0x03, 0, 0, 0,   // NOOP
                              0x20, 0x00, 0x00});          // SSL, empty
    std::string h = v2(0x21, 0x11, tcp4_block + tlvs);
    Parsed p = parse(h + "hello\n");
    REQUIRE(p.result == ProxyParse::done);
    CHECK(p.header.size == 16 + 12 + tlvs.size());
    CHECK(client(p.header) == "192.0.2.1:56324");
    check_prefixes_incomplete(h);
}

TEST_CASE("v2 addresses shorter than their family's are invalid")
{
    for (size_t len : {0, 4, 8, 11}) {
        CAPTURE(len);
        CHECK(parse(v2(0x21, 0x11, tcp4_block.substr(0, len))).result == ProxyParse::invalid);
    }
    for (size_t len : {0, 12, 16, 32, 35}) {
        CAPTURE(len);
        CHECK(parse(v2(0x21, 0x21, tcp6_block.substr(0, len))).result == ProxyParse::invalid);
    }
}

TEST_CASE("v2 version and command other than 2 and LOCAL/PROXY are invalid")
{
    for (int vc : {0x01, 0x11, 0x31, 0xf1, 0x00, 0x22, 0x2f}) {
        CAPTURE(vc);
        Parsed p = parse(v2(static_cast<uint8_t>(vc), 0x11, tcp4_block));
        CHECK(p.result == ProxyParse::invalid);
        CHECK(p.why != "");
    }
}

TEST_CASE("v2 length past the limit is invalid at once; at the limit it is read")
{
    size_t most = proxy_header_limit - 16;
    // With only the fixed 16 bytes: no need to wait for the rest.
    CHECK(parse(v2(0x21, 0x11, "", most + 1)).result == ProxyParse::invalid);
    CHECK(parse(v2(0x21, 0x11, "", 0xffff)).result == ProxyParse::invalid);
    CHECK(parse(v2(0x20, 0x00, "", 0xffff)).result == ProxyParse::invalid);  // LOCAL too
    std::string body = tcp4_block + std::string(most - tcp4_block.size(), '\0');
    CHECK(parse(v2(0x21, 0x11, body.substr(0, most - 1), most)).result == ProxyParse::incomplete);
    Parsed p = parse(v2(0x21, 0x11, body));
    REQUIRE(p.result == ProxyParse::done);
    CHECK(p.header.size == proxy_header_limit);
}

TEST_CASE("v2 signature: every byte altered in turn is no header")
{
    std::string good = v2(0x21, 0x11, tcp4_block);
    for (size_t i = 0; i < 12; i++) {
        std::string bad = good;
        bad[i] = static_cast<char>(bad[i] ^ 0x80);
        CAPTURE(i);
        CHECK(parse(bad).result == ProxyParse::absent);
        CHECK(parse(bad.substr(0, i + 1)).result == ProxyParse::absent);  // as soon as it arrives
    }
}
