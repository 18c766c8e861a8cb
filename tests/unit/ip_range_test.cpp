// IP addresses and CIDR ranges: what parses, what is refused, and what a range contains,
// IPv4-mapped IPv6 peers included (a dual-stack listener sees IPv4 clients that way).
#include "ip_range.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/un.h>

namespace {

IpAddress ip(const char* text)
{
    IpAddress a;
    REQUIRE_MESSAGE(parse_ip(text, a), text);
    return a;
}

IpRanges ranges(std::vector<std::string> texts)
{
    IpRanges r;
    std::string err;
    REQUIRE_MESSAGE(IpRanges::parse(texts, r, err), err);
    return r;
}

std::string refusal(std::string text)
{
    IpRanges r;
    std::string err;
    if (IpRanges::parse({text}, r, err))
        return "";
    return err;
}

}  // namespace

TEST_CASE("parse_ip: IPv4, IPv6, brackets, zones")
{
    IpAddress a = ip("192.0.2.1");
    CHECK(a.v4);
    CHECK(a.bytes[0] == 192);
    CHECK(a.bytes[3] == 1);
    CHECK(a.bytes[4] == 0);  // the rest zero, so that == and the hash see one value

    a = ip("2001:db8::1");
    CHECK(!a.v4);
    CHECK(a.bytes[0] == 0x20);
    CHECK(a.bytes[15] == 1);

    CHECK(ip("[2001:db8::1]") == ip("2001:db8::1"));
    CHECK(ip("fe80::1%eth0") == ip("fe80::1"));  // the zone is not part of the address
    CHECK(ip("[fe80::1%eth0]") == ip("fe80::1"));
    CHECK(!(ip("::1") == ip("::2")));
    CHECK(!(ip("0.0.0.1") == ip("::1")));  // the same bytes in another family
}

TEST_CASE("parse_ip: an IPv4-mapped IPv6 address is its IPv4 address")
{
    IpAddress a = ip("::ffff:10.1.2.3");
    CHECK(a.v4);
    CHECK(a == ip("10.1.2.3"));
    CHECK(ip("[::ffff:a01:203]") == ip("10.1.2.3"));
    CHECK(IpAddressHash{}(a) == IpAddressHash{}(ip("10.1.2.3")));
    CHECK(!ip("::10.1.2.3").v4);  // IPv4-compatible (deprecated) is not mapped
    CHECK(!ip("64:ff9b::10.1.2.3").v4);
}

TEST_CASE("parse_ip: junk is refused")
{
    for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ", " 1.2.3.4", "::g",
                            "[::1", "::1]", "[]", "%eth0", "example.com", "localhost", "1.2.3.4:80", "[::1]:80",
                            "2001:db8:::1", "1:2:3:4:5:6:7:8:9"}) {
        CAPTURE(bad);
        IpAddress a;
        CHECK(!parse_ip(bad, a));
    }
    IpAddress a;
    CHECK(!parse_ip(std::string(100, '1'), a));  // longer than any address
    // A NUL is not the end of the text (inet_pton would stop there).
    CHECK(!parse_ip(std::string("10.0.0.1\0junk", 13), a));
    CHECK(!parse_ip(std::string("::1\0", 4), a));
    CHECK(refusal(std::string("10.0.0.1\0/8", 11)) != "");
}

TEST_CASE("parse_ip_of_addr: the address in an ADDR")
{
    IpAddress a;
    REQUIRE(parse_ip_of_addr("192.0.2.1:5", a));
    CHECK(a == ip("192.0.2.1"));
    REQUIRE(parse_ip_of_addr("[::1]:54321", a));
    CHECK(a == ip("::1"));
    REQUIRE(parse_ip_of_addr("[fe80::1%eth0]:80", a));
    CHECK(a == ip("fe80::1"));
    CHECK(!parse_ip_of_addr("192.0.2.1", a));
    CHECK(!parse_ip_of_addr("host:80", a));
}

TEST_CASE("ranges: IPv4 prefixes, on and off byte boundaries")
{
    IpRanges r = ranges({"10.0.0.0/8", "192.168.1.0/25", "172.16.0.0/12"});
    CHECK(!r.empty());
    CHECK(r.contains(ip("10.0.0.0")));
    CHECK(r.contains(ip("10.255.255.255")));
    CHECK(!r.contains(ip("11.0.0.0")));
    CHECK(!r.contains(ip("9.255.255.255")));
    CHECK(r.contains(ip("192.168.1.127")));
    CHECK(!r.contains(ip("192.168.1.128")));
    CHECK(r.contains(ip("172.31.255.255")));
    CHECK(!r.contains(ip("172.32.0.0")));
    CHECK(!r.contains(ip("::a00:1")));  // 10.0.0.1's bytes as IPv6: another family
}

TEST_CASE("ranges: IPv6 prefixes")
{
    IpRanges r = ranges({"2001:db8::/32", "fc00::/7"});
    CHECK(r.contains(ip("2001:db8::1")));
    CHECK(r.contains(ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")));
    CHECK(!r.contains(ip("2001:db9::")));
    CHECK(r.contains(ip("fc00::1")));  // /7 covers fc00::/8 and fd00::/8
    CHECK(r.contains(ip("fdff::1")));
    CHECK(!r.contains(ip("fe00::1")));
    CHECK(!r.contains(ip("32.1.13.184")));  // 2001:db8's bytes as IPv4
}

TEST_CASE("ranges: /0, /32, /128 and bare addresses")
{
    IpRanges all4 = ranges({"0.0.0.0/0"});
    CHECK(all4.contains(ip("0.0.0.0")));
    CHECK(all4.contains(ip("255.255.255.255")));
    CHECK(all4.contains(ip("::ffff:1.2.3.4")));
    CHECK(!all4.contains(ip("::1")));  // every IPv4 address, and no IPv6 one

    IpRanges all6 = ranges({"::/0"});
    CHECK(all6.contains(ip("::1")));
    CHECK(all6.contains(ip("ffff::")));
    CHECK(!all6.contains(ip("1.2.3.4")));

    IpRanges one4 = ranges({"192.0.2.7/32"});
    CHECK(one4.contains(ip("192.0.2.7")));
    CHECK(!one4.contains(ip("192.0.2.6")));
    CHECK(!one4.contains(ip("192.0.2.8")));

    IpRanges one6 = ranges({"2001:db8::7/128"});
    CHECK(one6.contains(ip("2001:db8::7")));
    CHECK(!one6.contains(ip("2001:db8::6")));

    IpRanges bare = ranges({"192.0.2.7", "2001:db8::7"});
    CHECK(bare.contains(ip("192.0.2.7")));
    CHECK(!bare.contains(ip("192.0.2.70")));
    CHECK(bare.contains(ip("2001:db8::7")));
    CHECK(!bare.contains(ip("2001:db8::70")));

    CHECK(ranges({}).empty());
    CHECK(!ranges({}).contains(ip("1.2.3.4")));
}

TEST_CASE("ranges: an IPv4-mapped IPv6 peer matches its IPv4 range")
{
    IpRanges r = ranges({"10.0.0.0/8"});
    CHECK(r.contains(ip("::ffff:10.9.8.7")));
    CHECK(!r.contains(ip("::ffff:11.9.8.7")));

    sockaddr_in6 six{};
    six.sin6_family = AF_INET6;
    REQUIRE(inet_pton(AF_INET6, "::ffff:10.9.8.7", &six.sin6_addr) == 1);
    IpAddress peer;
    REQUIRE(ip_of(reinterpret_cast<sockaddr*>(&six), peer));
    CHECK(peer.v4);
    CHECK(r.contains(peer));

    // A range written in the mapped form is its IPv4 address too.
    CHECK(ranges({"::ffff:10.9.8.7"}).contains(ip("10.9.8.7")));
}

TEST_CASE("ip_of: IPv4 and IPv6 sockets; no address for other families")
{
    sockaddr_in four{};
    four.sin_family = AF_INET;
    four.sin_addr.s_addr = htonl(0xc0000201);  // 192.0.2.1
    IpAddress a;
    REQUIRE(ip_of(reinterpret_cast<sockaddr*>(&four), a));
    CHECK(a == ip("192.0.2.1"));

    sockaddr_in6 six{};
    six.sin6_family = AF_INET6;
    REQUIRE(inet_pton(AF_INET6, "2001:db8::1", &six.sin6_addr) == 1);
    REQUIRE(ip_of(reinterpret_cast<sockaddr*>(&six), a));
    CHECK(a == ip("2001:db8::1"));

    sockaddr_un local{};
    local.sun_family = AF_UNIX;
    CHECK(!ip_of(reinterpret_cast<sockaddr*>(&local), a));
}

TEST_CASE("ranges: host bits set past the prefix are refused (a typo more likely than a range)")
{
    CHECK(refusal("10.0.0.1/8") == "\"10.0.0.1/8\" has bits set past its prefix length");
    CHECK(refusal("192.168.1.128/24") != "");
    CHECK(refusal("192.168.1.1/31") != "");
    CHECK(refusal("2001:db8::1/64") != "");
    CHECK(refusal("2001:db9::/31") != "");  // 0x0db9's low bit is past /31
    CHECK(refusal("2001:db8::/31") == "");
    CHECK(refusal("1.2.3.4/0") != "");
    CHECK(refusal("192.168.1.128/25") == "");
    CHECK(refusal("2001:db8::/29") == "");
}

TEST_CASE("ranges: junk is refused, naming the entry")
{
    for (const char* bad : {"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/8/8", "10.0.0.0/-1",
                            "10.0.0.0/+8", "10.0.0.0/ 8", "10.0.0.0 /8", "10.0.0.0/8 ", "10.0.0.0/x",
                            "10.0.0.0/99999999999999999999", "10.0.0", "example.com/8", "fe80::1%eth0",
                            "fe80::%eth0/64", "*"}) {
        CAPTURE(bad);
        std::string err = refusal(bad);
        CHECK(err.find("\"" + std::string(bad) + "\"") != std::string::npos);
    }
    // One bad entry among good ones fails the list.
    IpRanges r;
    std::string err;
    CHECK(!IpRanges::parse({"10.0.0.0/8", "nope", "::1"}, r, err));
    CHECK(err.find("\"nope\"") != std::string::npos);
}

TEST_CASE("ranges: parsing again replaces the list")
{
    IpRanges r = ranges({"10.0.0.0/8"});
    std::string err;
    REQUIRE(IpRanges::parse({"192.0.2.0/24"}, r, err));
    CHECK(!r.contains(ip("10.1.1.1")));
    CHECK(r.contains(ip("192.0.2.1")));
    REQUIRE(IpRanges::parse({}, r, err));
    CHECK(r.empty());
}
