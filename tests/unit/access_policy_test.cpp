// Access policy: the lists (deny wins, an empty allow lets everyone in) and the connect rate
// behind them, on given times.
#include "access_policy.h"

#include <cstring>
#include <doctest/doctest.h>

using Verdict = AccessPolicy::Verdict;

namespace {
IpAddress ip(const char* text)
{
    IpAddress a;
    REQUIRE(parse_ip(text, a));
    return a;
}
}  // namespace

TEST_CASE("the default config lets everyone in, and needs no addresses looked at")
{
    AccessPolicy p;
    p.configure(AccessConfig{});
    CHECK(!p.active());
    CHECK(p.check(ip("192.0.2.1"), 0) == Verdict::admit);
    CHECK(p.check(ip("::1"), 0) == Verdict::admit);
    CHECK(p.allowed(ip("192.0.2.1")));
}

TEST_CASE("deny wins over allow")
{
    AccessConfig c;
    c.allow = {"10.0.0.0/8", "2001:db8::/32"};
    c.deny = {"10.1.0.0/16", "2001:db8:bad::/48"};
    AccessPolicy p;
    p.configure(c);
    CHECK(p.active());
    CHECK(p.check(ip("10.2.3.4"), 0) == Verdict::admit);
    CHECK(p.check(ip("10.1.2.3"), 0) == Verdict::denied);     // in both: denied
    CHECK(p.check(ip("192.0.2.1"), 0) == Verdict::denied);    // in neither: not allowed
    CHECK(p.check(ip("2001:db8::1"), 0) == Verdict::admit);
    CHECK(p.check(ip("2001:db8:bad::1"), 0) == Verdict::denied);
    CHECK(!p.allowed(ip("10.1.2.3")));
    CHECK(p.allowed(ip("10.2.3.4")));
}

TEST_CASE("an empty allow list: everyone not denied")
{
    AccessConfig c;
    c.deny = {"192.0.2.0/24"};
    AccessPolicy p;
    p.configure(c);
    CHECK(p.active());
    CHECK(p.check(ip("198.51.100.1"), 0) == Verdict::admit);
    CHECK(p.check(ip("2001:db8::1"), 0) == Verdict::admit);
    CHECK(p.check(ip("192.0.2.5"), 0) == Verdict::denied);
    // A dual-stack listener's IPv4 peer, as it arrives: IPv4-mapped IPv6.
    CHECK(p.check(ip("::ffff:192.0.2.5"), 0) == Verdict::denied);
}

TEST_CASE("an allow list alone: no one else")
{
    AccessConfig c;
    c.allow = {"127.0.0.0/8"};
    AccessPolicy p;
    p.configure(c);
    CHECK(p.check(ip("127.0.0.2"), 0) == Verdict::admit);
    CHECK(p.check(ip("::ffff:127.0.0.2"), 0) == Verdict::admit);
    CHECK(p.check(ip("::1"), 0) == Verdict::denied);
}

TEST_CASE("the connect rate applies to addresses the lists let in")
{
    AccessConfig c;
    c.connect_rate = 1;
    c.connect_burst = 2;
    AccessPolicy p;
    p.configure(c);
    CHECK(p.active());
    IpAddress a = ip("192.0.2.1");
    CHECK(p.check(a, 0) == Verdict::admit);
    CHECK(p.check(a, 0) == Verdict::admit);
    CHECK(p.check(a, 0) == Verdict::too_fast);
    CHECK(p.allowed(a));  // too fast is not denied: a connected client may stay
    CHECK(p.check(ip("192.0.2.2"), 0) == Verdict::admit);
    CHECK(p.check(a, 1) == Verdict::admit);
    CHECK(p.check(a, 1) == Verdict::too_fast);
}

TEST_CASE("a denied connection is not counted toward the rate")
{
    AccessConfig c;
    c.deny = {"192.0.2.1"};
    c.connect_rate = 0.001;
    c.connect_burst = 1;
    AccessPolicy p;
    p.configure(c);
    IpAddress a = ip("192.0.2.1");
    for (int i = 0; i < 5; i++)
        CHECK(p.check(a, 0) == Verdict::denied);
    c.deny.clear();
    p.configure(c);  // a reload lifts the deny, keeping the rate's buckets
    CHECK(p.check(a, 0) == Verdict::admit);  // the bucket is still full
    CHECK(p.check(a, 0) == Verdict::too_fast);
}

TEST_CASE("a reload replaces the lists")
{
    AccessConfig c;
    c.deny = {"192.0.2.0/24"};
    AccessPolicy p;
    p.configure(c);
    CHECK(!p.allowed(ip("192.0.2.1")));
    c.deny = {};
    c.allow = {"198.51.100.0/24"};
    p.configure(c);
    CHECK(p.allowed(ip("198.51.100.9")));
    CHECK(!p.allowed(ip("203.0.113.1")));
    p.configure(AccessConfig{});
    CHECK(!p.active());
    CHECK(p.allowed(ip("203.0.113.1")));
}

TEST_CASE("refusal texts")
{
    CHECK(strcmp(refusal_text(Verdict::denied), "access denied") == 0);
    CHECK(strcmp(refusal_text(Verdict::too_fast), "too many connections from your address, slow down") == 0);
    CHECK(strcmp(refusal_text(Verdict::admit), "") == 0);
}
