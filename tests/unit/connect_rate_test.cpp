// Connect rate: each address's bucket on given times, and the table's bound (a flood from
// many addresses must not grow it, and forgets the least recently seen first).
#include "connect_rate.h"

#include <doctest/doctest.h>

namespace {
IpAddress ip(const char* text)
{
    IpAddress a;
    REQUIRE(parse_ip(text, a));
    return a;
}
// The n-th of many distinct addresses.
IpAddress nth(uint32_t n)
{
    IpAddress a;
    a.bytes = {static_cast<uint8_t>(n >> 24), static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 8),
               static_cast<uint8_t>(n)};
    return a;
}
}  // namespace

TEST_CASE("off by default: every connection is let in, and nothing is remembered")
{
    ConnectRate r;
    CHECK(!r.enabled());
    for (int i = 0; i < 100; i++)
        CHECK(r.take(ip("192.0.2.1"), 0));
    CHECK(r.remembered() == 0);
}

TEST_CASE("the burst at once, then refusal until a token is earned")
{
    ConnectRate r;
    r.configure(2, 3);  // 2 per second, burst 3
    CHECK(r.enabled());
    IpAddress a = ip("192.0.2.1");
    CHECK(r.take(a, 10));
    CHECK(r.take(a, 10));
    CHECK(r.take(a, 10));
    CHECK(!r.take(a, 10));
    CHECK(!r.take(a, 10.25));  // half a token (times exact in binary: no rounding at 1.0)
    CHECK(r.take(a, 10.5));    // one earned in half a second
    CHECK(!r.take(a, 10.5));
    // A refusal spends nothing: the token earned by 11.0 is still there.
    CHECK(r.take(a, 11.0));
}

TEST_CASE("refill stops at the burst")
{
    ConnectRate r;
    r.configure(1, 2);
    IpAddress a = ip("2001:db8::1");
    CHECK(r.take(a, 0));
    CHECK(r.take(a, 0));
    CHECK(!r.take(a, 0));
    // An hour later: two, not 3600.
    CHECK(r.take(a, 3600));
    CHECK(r.take(a, 3600));
    CHECK(!r.take(a, 3600));
}

TEST_CASE("addresses have their own buckets; an IPv4-mapped peer shares its IPv4 one")
{
    ConnectRate r;
    r.configure(0.1, 1);
    CHECK(r.take(ip("192.0.2.1"), 0));
    CHECK(!r.take(ip("192.0.2.1"), 0));
    CHECK(!r.take(ip("::ffff:192.0.2.1"), 0));
    CHECK(r.take(ip("192.0.2.2"), 0));
    CHECK(r.take(ip("::ffff:192.0.2.3"), 0));
    CHECK(r.remembered() == 3);
}

TEST_CASE("a burst under 1 is 1: the first connection always gets in")
{
    ConnectRate r;
    r.configure(0.5, 0);
    CHECK(r.take(ip("192.0.2.1"), 0));
    CHECK(!r.take(ip("192.0.2.1"), 0));
}

TEST_CASE("turning the rate off forgets every address; on again, they start full")
{
    ConnectRate r;
    r.configure(0.001, 1);
    IpAddress a = ip("192.0.2.1");
    CHECK(r.take(a, 0));
    CHECK(!r.take(a, 0));
    r.configure(0, 1);
    CHECK(r.remembered() == 0);
    CHECK(r.take(a, 0));
    CHECK(r.take(a, 0));
    r.configure(0.001, 1);
    CHECK(r.take(a, 0));
    CHECK(!r.take(a, 0));
}

TEST_CASE("a reload with a rate keeps the buckets: SIGHUP is no way around the limit")
{
    ConnectRate r;
    r.configure(0.001, 1);
    IpAddress a = ip("192.0.2.1");
    CHECK(r.take(a, 0));
    r.configure(0.001, 1);
    CHECK(!r.take(a, 0));
    CHECK(r.remembered() == 1);
}

TEST_CASE("the clock going back (ev_now is wall-clock time) does not lock an address out")
{
    ConnectRate r;
    r.configure(1, 1);
    IpAddress a = ip("192.0.2.1");
    CHECK(r.take(a, 1000));
    CHECK(!r.take(a, 1000));
    // The wall clock is set back an hour: no token is earned by that, none is owed either.
    CHECK(!r.take(a, -2600));
    CHECK(r.take(a, -2599));
}

TEST_CASE("the table holds at most its capacity, forgetting the least recently seen")
{
    ConnectRate r(3);
    r.configure(0.001, 1);  // one token, then none for the test's duration
    IpAddress a = ip("10.0.0.1"), b = ip("10.0.0.2"), c = ip("10.0.0.3"), d = ip("10.0.0.4");
    for (IpAddress x : {a, b, c}) {
        CHECK(r.take(x, 0));
        CHECK(!r.take(x, 0));  // each one's bucket is empty now
    }
    CHECK(r.remembered() == 3);
    CHECK(!r.take(a, 0));  // a is seen again (refused): b is now the least recently seen
    CHECK(r.take(d, 0));   // d new: b is forgotten
    CHECK(r.remembered() == 3);
    CHECK(!r.take(a, 0));  // a was kept: still empty
    CHECK(!r.take(c, 0));  // c too
    CHECK(r.take(b, 0));   // b was forgotten: a full bucket again (d is forgotten for it)
    CHECK(r.remembered() == 3);
    CHECK(r.take(d, 0));
}

TEST_CASE("a flood from many distinct addresses costs no more than the capacity")
{
    ConnectRate r(1000);
    r.configure(1, 1);
    for (uint32_t i = 0; i < 100000; i++)
        CHECK(r.take(nth(i), 0));  // each new address gets its first connection
    CHECK(r.remembered() == 1000);
    CHECK(!r.take(nth(99999), 0));  // the most recent are remembered
    CHECK(r.take(nth(0), 0));       // the oldest are not
}

TEST_CASE("a capacity of 0 is taken as 1 (a table must hold the address it is asked about)")
{
    ConnectRate r(0);
    r.configure(0.001, 1);
    CHECK(r.take(ip("192.0.2.1"), 0));
    CHECK(!r.take(ip("192.0.2.1"), 0));
    CHECK(r.remembered() == 1);
    CHECK(r.take(ip("192.0.2.2"), 0));
    CHECK(r.remembered() == 1);
}
