// Addresses: listen-address parsing and Go's formatting of peers.
#include "address.h"

#include <arpa/inet.h>
#include <cstring>
#include <doctest/doctest.h>
#include <netinet/in.h>

namespace {
std::string v6(const char* ip, uint16_t port)
{
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    REQUIRE(inet_pton(AF_INET6, ip, &a.sin6_addr) == 1);
    return format_address(reinterpret_cast<sockaddr*>(&a));
}
}  // namespace

TEST_CASE("peers print as Go's net.TCPAddr.String()")
{
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(54321);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(format_address(reinterpret_cast<sockaddr*>(&a)) == "127.0.0.1:54321");
    CHECK(v6("::1", 80) == "[::1]:80");
    CHECK(v6("::ffff:10.1.2.3", 5) == "10.1.2.3:5");  // IPv4-mapped prints as IPv4
    CHECK(v6("::", 1) == "[::]:1");
    CHECK(v6("2001:db8:0:0:1:0:0:1", 1) == "[2001:db8::1:0:0:1]:1");  // first longest run
    CHECK(v6("2001:db8:0:1:1:1:1:1", 1) == "[2001:db8:0:1:1:1:1:1]:1");  // one zero group stays
    CHECK(v6("::1.2.3.4", 1) == "[::102:304]:1");  // Go, unlike inet_ntop
    CHECK(v6("FE80::ABCD", 1) == "[fe80::abcd]:1");
}

TEST_CASE("listen addresses")
{
    ListenAddress a;
    std::string err;
    REQUIRE(parse_listen_address("localhost:8000", a, err));
    CHECK(a.addr.ss_family == AF_INET);
    CHECK(format_address(reinterpret_cast<sockaddr*>(&a.addr)) == "127.0.0.1:8000");
    REQUIRE(parse_listen_address("[::1]:0", a, err));
    CHECK(a.addr.ss_family == AF_INET6);
    CHECK_FALSE(a.dual_stack);
    REQUIRE(parse_listen_address(":8000", a, err));
    CHECK(a.dual_stack);
    REQUIRE(parse_listen_address("[::]:8000", a, err));
    CHECK(a.dual_stack);
    REQUIRE(parse_listen_address("0.0.0.0:1", a, err));
    CHECK(a.addr.ss_family == AF_INET);
    CHECK_FALSE(parse_listen_address("8000", a, err));
    CHECK_FALSE(parse_listen_address("127.0.0.1:65536", a, err));
    CHECK_FALSE(parse_listen_address("127.0.0.1:x", a, err));
    CHECK_FALSE(parse_listen_address("::1:80", a, err));
    CHECK_FALSE(parse_listen_address("example.com:80", a, err));
    CHECK(err.find("host must be") != std::string::npos);
}
