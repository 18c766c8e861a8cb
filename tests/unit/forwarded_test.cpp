// Forwarded clients: which hop of X-Forwarded-For / Forwarded (RFC 7239) is believed when
// the request came from a trusted proxy: the rightmost one not itself trusted.
#include "forwarded.h"

#include <doctest/doctest.h>

namespace {

const uint16_t port = 4242;  // the proxy's port: the fallback when no hop gives one

IpRanges trusted()
{
    IpRanges r;
    std::string err;
    REQUIRE(IpRanges::parse({"10.0.0.0/8", "2001:db8:aaaa::/48"}, r, err));
    return r;
}

std::string client(std::vector<std::pair<std::string, std::string>> fields)
{
    HttpRequest req;
    req.fields = std::move(fields);
    return forwarded_client(req, trusted(), port);
}

}  // namespace

TEST_CASE("no forwarding field: no client named")
{
    CHECK(client({}) == "");
    CHECK(client({{"Host", "chat.example"}, {"X-Real-IP", "203.0.113.7"}}) == "");
    CHECK(client({{"Forwarded", "proto=https;host=chat.example"}}) == "");  // no for=
}

TEST_CASE("X-Forwarded-For: one hop, with the proxy's port")
{
    CHECK(client({{"X-Forwarded-For", "203.0.113.7"}}) == "203.0.113.7:4242");
    CHECK(client({{"X-Forwarded-For", "2001:db8::7"}}) == "[2001:db8::7]:4242");
    CHECK(client({{"x-forwarded-for", "203.0.113.7"}}) == "203.0.113.7:4242");  // any case
    CHECK(client({{"X-Forwarded-For", "::ffff:203.0.113.7"}}) == "203.0.113.7:4242");
}

TEST_CASE("X-Forwarded-For: the rightmost hop not trusted, so a client's own entries are not believed")
{
    CHECK(client({{"X-Forwarded-For", "203.0.113.7, 10.0.0.2"}}) == "203.0.113.7:4242");
    // The client forged the leftmost entry; the proxy appended the address it saw.
    CHECK(client({{"X-Forwarded-For", "198.51.100.1, 203.0.113.7"}}) == "203.0.113.7:4242");
    CHECK(client({{"X-Forwarded-For", "198.51.100.1, 203.0.113.7, 10.0.0.3, 10.0.0.2"}}) == "203.0.113.7:4242");
    CHECK(client({{"X-Forwarded-For", "198.51.100.1, 2001:db8::7, 2001:db8:aaaa::1"}}) == "[2001:db8::7]:4242");
    // A trusted proxy seen as IPv4-mapped IPv6 is still trusted.
    CHECK(client({{"X-Forwarded-For", "203.0.113.7, ::ffff:10.0.0.2"}}) == "203.0.113.7:4242");
}

TEST_CASE("X-Forwarded-For: spaces and tabs around hops")
{
    CHECK(client({{"X-Forwarded-For", " 203.0.113.7 ,\t10.0.0.2 "}}) == "203.0.113.7:4242");
    CHECK(client({{"X-Forwarded-For", "198.51.100.1,203.0.113.7"}}) == "203.0.113.7:4242");
}

TEST_CASE("X-Forwarded-For: several fields are one list, in order")
{
    CHECK(client({{"X-Forwarded-For", "198.51.100.1"}, {"X-Forwarded-For", "203.0.113.7, 10.0.0.2"}}) ==
          "203.0.113.7:4242");
    CHECK(client({{"X-Forwarded-For", "203.0.113.7"}, {"Host", "x"}, {"X-Forwarded-For", "10.0.0.2"}}) ==
          "203.0.113.7:4242");
    CHECK(client({{"X-Forwarded-For", "10.0.0.2"}, {"X-Forwarded-For", "203.0.113.7"}}) == "203.0.113.7:4242");
}

TEST_CASE("every hop trusted: the leftmost")
{
    CHECK(client({{"X-Forwarded-For", "10.0.0.5, 10.0.0.2"}}) == "10.0.0.5:4242");
    CHECK(client({{"X-Forwarded-For", "10.0.0.5"}}) == "10.0.0.5:4242");
    CHECK(client({{"Forwarded", "for=10.0.0.5, for=10.0.0.2"}}) == "10.0.0.5:4242");
}

TEST_CASE("Forwarded: for= among other pairs, quoted IPv6 with a port, ports")
{
    CHECK(client({{"Forwarded", "for=192.0.2.60;proto=http;by=203.0.113.43"}}) == "192.0.2.60:4242");
    CHECK(client({{"Forwarded", "proto=http; For=192.0.2.60"}}) == "192.0.2.60:4242");
    CHECK(client({{"Forwarded", "for=\"[2001:db8:cafe::17]:4711\""}}) == "[2001:db8:cafe::17]:4711");
    CHECK(client({{"Forwarded", "for=\"[2001:db8:cafe::17]\""}}) == "[2001:db8:cafe::17]:4242");
    CHECK(client({{"Forwarded", "for=\"192.0.2.60:8080\""}}) == "192.0.2.60:8080");
    CHECK(client({{"FORWARDED", "for=192.0.2.60"}}) == "192.0.2.60:4242");
    // A trusted hop's port is not the client's.
    CHECK(client({{"Forwarded", "for=192.0.2.60, for=\"10.0.0.2:9999\""}}) == "192.0.2.60:4242");
    // An obfuscated port is as good as none.
    CHECK(client({{"Forwarded", "for=\"192.0.2.60:_abc\""}}) == "192.0.2.60:4242");
}

TEST_CASE("Forwarded: a list, and several fields, walked from the right")
{
    CHECK(client({{"Forwarded", "for=192.0.2.43, for=198.51.100.17"}}) == "198.51.100.17:4242");
    CHECK(client({{"Forwarded", "for=192.0.2.43, for=198.51.100.17;by=10.0.0.9, for=10.0.0.2"}}) ==
          "198.51.100.17:4242");
    CHECK(client({{"Forwarded", "for=192.0.2.43"}, {"Forwarded", "for=\"[2001:db8::9]:1\""}}) == "[2001:db8::9]:1");
}

TEST_CASE("obfuscated and \"unknown\" nodes: no client named when one is the hop chosen")
{
    CHECK(client({{"Forwarded", "for=unknown"}}) == "");
    CHECK(client({{"Forwarded", "for=_hidden"}}) == "");
    CHECK(client({{"Forwarded", "for=\"_gazonk\""}}) == "");
    CHECK(client({{"Forwarded", "for=192.0.2.43, for=unknown, for=10.0.0.2"}}) == "");
    CHECK(client({{"X-Forwarded-For", "unknown"}}) == "");
    CHECK(client({{"X-Forwarded-For", "203.0.113.7, garbage"}}) == "");
    // Left of the hop chosen, they do not matter.
    CHECK(client({{"Forwarded", "for=unknown, for=203.0.113.7"}}) == "203.0.113.7:4242");
    CHECK(client({{"X-Forwarded-For", "_hidden, 203.0.113.7, 10.0.0.2"}}) == "203.0.113.7:4242");
}

TEST_CASE("Forwarded and X-Forwarded-For both: believed only when they name the same client")
{
    // A proxy that sets both (or a chain whose proxies set one each, agreeing).
    CHECK(client({{"Forwarded", "for=\"203.0.113.7:5555\""}, {"X-Forwarded-For", "203.0.113.7"}}) ==
          "203.0.113.7:5555");  // Forwarded's port
    CHECK(client({{"X-Forwarded-For", "198.51.100.1, 203.0.113.7"}, {"Forwarded", "for=203.0.113.7, for=10.0.0.2"}}) ==
          "203.0.113.7:4242");
    // Behind a proxy that appends only X-Forwarded-For (HAProxy's option forwardfor, nginx's
    // $proxy_add_x_forwarded_for), the client writes Forwarded itself: believing it would
    // let any client name any address. Behind one that appends only Forwarded, the same
    // holds for X-Forwarded-For. Which field the proxy wrote cannot be told from the request.
    CHECK(client({{"Forwarded", "for=198.51.100.1"}, {"X-Forwarded-For", "203.0.113.7"}}) == "");
    CHECK(client({{"Forwarded", "for=203.0.113.7"}, {"X-Forwarded-For", "198.51.100.1"}}) == "");
    CHECK(client({{"Forwarded", "for=unknown"}, {"X-Forwarded-For", "203.0.113.7"}}) == "");
}
