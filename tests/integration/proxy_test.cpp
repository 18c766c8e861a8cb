// Behind load balancers and on the open internet: the PROXY protocol through a real
// HAProxy (send-proxy, send-proxy-v2, and HTTP mode with X-Forwarded-For for WebSocket),
// headers not believed from untrusted peers, the access lists and their reload, the
// connect rate, and the memory budget for unfinished lines. Clients are told apart by
// their source address, bound to 127.0.0.2 and the like.
#include "harness.h"
#include "web_client.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <string>

using namespace itest;

namespace {

std::unique_ptr<Conn> connect_from(const std::string& source, uint16_t port)
{
    auto c = Conn::connect("127.0.0.1", port, 0, kTimeout, source);
    REQUIRE_MESSAGE(c, "connect from " << source << ": " << strerror(errno));
    return c;
}

// Everything the server says until it closes; "" if it said nothing.
std::string until_closed(Conn& c)
{
    bool ended = false;
    std::string said = c.read_until_eof(kTimeout, &ended);
    CHECK_MESSAGE(ended, "the server did not close the connection");
    return said;
}

// An evchat that trusts 127.0.0.1 (the balancer), with HAProxy in front of its chat
// address in TCP mode.
struct Balanced {
    explicit Balanced(const char* send_proxy, const std::string& extra = "")
    {
        ServerOptions opts;
        opts.config = "[proxy]\ntrusted = [\"127.0.0.1\"]\n" + extra;
        srv = start_evchat(opts);
        port = free_port();
        haproxy = start_haproxy("frontend chat\n  bind 127.0.0.1:" + std::to_string(port) +
                                    "\n  default_backend evchat\nbackend evchat\n  server evchat 127.0.0.1:" +
                                    std::to_string(srv->port()) + " " + send_proxy + "\n",
                                {port});
        REQUIRE_MESSAGE(haproxy, "haproxy is not installed (apt-get install -y haproxy)");
    }
    std::unique_ptr<Server> srv, haproxy;
    uint16_t port = 0;
};

}  // namespace

TEST_CASE("proxy: behind HAProxy a client from 127.0.0.2 is 127.0.0.2:PORT to itself and to the others")
{
    for (const char* send_proxy : {"send-proxy", "send-proxy-v2"}) {
        CAPTURE(send_proxy);
        Balanced b(send_proxy, "[server]\nmax_clients_per_ip = 1\n");
        auto A = connect_from("127.0.0.2", b.port);
        REQUIRE(A->read_line() == "You are " + A->addr());
        CHECK(A->addr().rfind("127.0.0.2:", 0) == 0);
        auto B = connect_from("127.0.0.3", b.port);
        REQUIRE(B->read_line() == "You are " + B->addr());
        REQUIRE(A->read_line() == B->addr() + " has arrived");
        REQUIRE(B->send_all("hello through the balancer\n"));
        CHECK(A->read_line() == B->addr() + ": hello through the balancer");
        CHECK(B->read_line() == B->addr() + ": hello through the balancer");
        // The per-address limit counts clients, not the balancer.
        auto A2 = connect_from("127.0.0.2", b.port);
        CHECK(until_closed(*A2) == "error: too many connections from your address\n");
        A->close();
        CHECK(B->read_line() == A->addr() + " has left");
        stop_evchat(*b.srv);
    }
}

TEST_CASE("proxy: from a trusted address, a missing, malformed or late header closes the connection unheard")
{
    ServerOptions opts;
    opts.config = "[proxy]\ntrusted = [\"127.0.0.2\"]\ntimeout = 0.5\n[admin]\nlisten = \"127.0.0.1:0\"\n";
    auto srv = start_evchat(opts);
    auto M = connect_from("127.0.0.1", srv->port());
    REQUIRE(M->read_line() == "You are " + M->addr());

    auto no_header = connect_from("127.0.0.2", srv->port());
    REQUIRE(no_header->send_all("hello\n"));
    CHECK(until_closed(*no_header).empty());
    auto malformed = connect_from("127.0.0.2", srv->port());
    REQUIRE(malformed->send_all("PROXY TCP4 192.0.2.7\r\nhello\n"));
    CHECK(until_closed(*malformed).empty());
    auto late = connect_from("127.0.0.2", srv->port());
    CHECK(until_closed(*late).empty());  // within [proxy] timeout and the read's bound

    // A good v1 header: the client it names is the client, and the rest is its input.
    auto v1 = connect_from("127.0.0.2", srv->port());
    REQUIRE(v1->send_all("PROXY TCP4 192.0.2.7 127.0.0.1 5555 8000\r\nhi\n"));
    CHECK(v1->read_line() == "You are 192.0.2.7:5555");
    CHECK(M->read_line() == "192.0.2.7:5555 has arrived");  // and no arrival of the three before
    CHECK(M->read_line() == "192.0.2.7:5555: hi");
    // v2 LOCAL (a balancer's health check): the connection's own address stands.
    auto local = connect_from("127.0.0.2", srv->port());
    REQUIRE(local->send_all(std::string("\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00", 16)));
    CHECK(local->read_line() == "You are " + local->addr());
    CHECK(M->read_line() == local->addr() + " has arrived");
    CHECK(metric(*srv, "evchat_connections_rejected_total{reason=\"proxy\"}") == 3);
    stop_evchat(*srv);
}

TEST_CASE("proxy: an untrusted client's PROXY header is only its first line")
{
    ServerOptions opts;
    opts.config = "[proxy]\ntrusted = [\"127.0.0.2\"]\n";
    auto srv = start_evchat(opts);
    auto M = connect_from("127.0.0.1", srv->port());
    REQUIRE(M->read_line() == "You are " + M->addr());
    auto forger = connect_from("127.0.0.3", srv->port());
    REQUIRE(forger->read_line() == "You are " + forger->addr());
    REQUIRE(M->read_line() == forger->addr() + " has arrived");
    REQUIRE(forger->send_all("PROXY TCP4 192.0.2.7 127.0.0.1 5555 8000\r\n"));
    CHECK(M->read_line() == forger->addr() + ": PROXY TCP4 192.0.2.7 127.0.0.1 5555 8000");
    stop_evchat(*srv);
}

TEST_CASE("proxy: WebSocket behind HAProxy, in HTTP mode with X-Forwarded-For and in TCP mode with send-proxy-v2")
{
    ServerOptions opts;
    opts.config = "[websocket]\nlisten = [\"127.0.0.1:0\"]\norigins = [\"*\"]\n[proxy]\ntrusted = [\"127.0.0.1\"]\n";
    opts.listen = {"127.0.0.2:0"};  // the chat address is not the balancer's concern
    auto srv = start_evchat(opts);
    uint16_t web = logged_port(*srv, "web listening on 127.0.0.1:");
    uint16_t http = free_port(), tcp = free_port();
    auto haproxy = start_haproxy("frontend http\n  mode http\n  bind 127.0.0.1:" + std::to_string(http) +
                                     "\n  option forwardfor\n  default_backend web\nbackend web\n  mode http\n"
                                     "  server evchat 127.0.0.1:" + std::to_string(web) +
                                     "\nfrontend tcp\n  bind 127.0.0.1:" + std::to_string(tcp) +
                                     "\n  default_backend webv2\nbackend webv2\n  server evchat 127.0.0.1:" +
                                     std::to_string(web) + " send-proxy-v2\n",
                                 {http, tcp});
    REQUIRE_MESSAGE(haproxy, "haproxy is not installed (apt-get install -y haproxy)");

    // Through the HTTP proxy, a forged X-Forwarded-For is one hop further left: the
    // rightmost untrusted hop is the client's own address, which HAProxy appends.
    auto forged = WsConn::connect(http, "X-Forwarded-For: 10.9.9.9\r\n", nullptr, 0, "127.0.0.2");
    REQUIRE(forged);
    std::string you = forged->read_message();
    CHECK(you.rfind("You are 127.0.0.2:", 0) == 0);
    // Through the PROXY header, the client's own address and port.
    auto v2 = WsConn::connect(tcp, "", nullptr, 0, "127.0.0.4");
    REQUIRE(v2);
    CHECK(v2->read_message() == "You are " + v2->addr());
    CHECK(forged->read_message() == v2->addr() + " has arrived");
    // Straight from an untrusted address, X-Forwarded-For is not believed.
    auto direct = WsConn::connect(web, "X-Forwarded-For: 10.9.9.9\r\nForwarded: for=10.9.9.8\r\n", nullptr, 0,
                                  "127.0.0.3");
    REQUIRE(direct);
    CHECK(direct->read_message() == "You are " + direct->addr());
    stop_evchat(*srv);
}

TEST_CASE("access: deny wins over allow, and a refused client is told before it enters")
{
    ServerOptions opts;
    opts.config = "[access]\nallow = [\"127.0.0.0/8\"]\ndeny = [\"127.0.0.3\", \"::ffff:127.0.0.4\"]\n"
                  "[admin]\nlisten = \"127.0.0.1:0\"\n";
    auto srv = start_evchat(opts);
    auto M = connect_from("127.0.0.2", srv->port());
    REQUIRE(M->read_line() == "You are " + M->addr());
    auto denied = connect_from("127.0.0.3", srv->port());
    CHECK(until_closed(*denied) == "error: access denied\n");
    auto mapped = connect_from("127.0.0.4", srv->port());  // an IPv4 peer matches the mapped rule
    CHECK(until_closed(*mapped) == "error: access denied\n");
    auto ok = connect_from("127.0.0.5", srv->port());
    CHECK(ok->read_line() == "You are " + ok->addr());
    CHECK(M->read_line() == ok->addr() + " has arrived");  // no arrival of the refused
    CHECK(metric(*srv, "evchat_connections_rejected_total{reason=\"access\"}") == 2);
    stop_evchat(*srv);
}

TEST_CASE("access: a reload applies new lists to newcomers, and with apply_to_connected to the connected too")
{
    ServerOptions opts;
    opts.config = "[access]\ndeny = []\n";
    auto srv = start_evchat(opts);
    auto A = connect_from("127.0.0.2", srv->port());
    REQUIRE(A->read_line() == "You are " + A->addr());
    auto B = connect_from("127.0.0.3", srv->port());
    REQUIRE(B->read_line() == "You are " + B->addr());
    REQUIRE(A->read_line() == B->addr() + " has arrived");

    { std::ofstream(srv->config->path()) << "[access]\ndeny = [\"127.0.0.2/32\"]\n"; }
    srv->signal(SIGHUP);
    REQUIRE(srv->wait_output("reloaded "));
    CHECK(until_closed(*connect_from("127.0.0.2", srv->port())) == "error: access denied\n");
    REQUIRE(B->send_all("still here?\n"));
    CHECK(A->read_line() == B->addr() + ": still here?");  // a connected client stays

    { std::ofstream(srv->config->path()) << "[access]\ndeny = [\"127.0.0.2/32\"]\napply_to_connected = true\n"; }
    srv->signal(SIGHUP);
    REQUIRE(srv->wait_output("reloaded ", 2));
    CHECK(until_closed(*A) == "error: access denied\n");
    CHECK(B->read_line() == B->addr() + ": still here?");
    CHECK(B->read_line() == A->addr() + " has left");
    stop_evchat(*srv);
}

TEST_CASE("access: over the connect rate an address is told to slow down; other addresses are not")
{
    ServerOptions opts;
    opts.config = "[access]\nconnect_rate = 0.01\nconnect_burst = 2\n[admin]\nlisten = \"127.0.0.1:0\"\n";
    auto srv = start_evchat(opts);
    auto first = connect_from("127.0.0.5", srv->port());
    REQUIRE(first->read_line() == "You are " + first->addr());
    auto second = connect_from("127.0.0.5", srv->port());
    REQUIRE(second->read_line() == "You are " + second->addr());
    auto third = connect_from("127.0.0.5", srv->port());
    CHECK(until_closed(*third) == "error: too many connections from your address, slow down\n");
    auto other = connect_from("127.0.0.6", srv->port());
    CHECK(other->read_line() == "You are " + other->addr());
    CHECK(metric(*srv, "evchat_connections_rejected_total{reason=\"connect_rate\"}") == 1);
    stop_evchat(*srv);
}

TEST_CASE("input memory: over max_input_memory the longest unfinished lines go, longest first; short talkers stay")
{
    ServerOptions opts;
    opts.config = "[server]\nmax_input_memory = 65536\n[admin]\nlisten = \"127.0.0.1:0\"\n";
    auto srv = start_evchat(opts);
    Room room("127.0.0.1", srv->port());
    Conn& healthy = room.join();
    Conn& big = room.join();
    Conn& small1 = room.join();
    Conn& small2 = room.join();
    auto held = [&] { return metric(*srv, "evchat_input_held_bytes"); };
    REQUIRE(big.send_all(std::string(40000, 'x')));
    double deadline = now() + kTimeout;
    while (held() < 40000 && now() < deadline)
        REQUIRE(srv->running());  // each scrape is a round trip through the loop
    REQUIRE(small1.send_all(std::string(20000, 'y')));
    REQUIRE(small2.send_all(std::string(20000, 'z')));
    CHECK(until_closed(big) == "error: line too long (max 65536 bytes)\n");
    CHECK(room.read(healthy) == big.addr() + " has left");
    REQUIRE(healthy.send_all("short line\n"));
    CHECK(room.read(healthy) == healthy.addr() + ": short line");
    CHECK(room.read(small1) == big.addr() + " has left");
    CHECK(room.read(small1) == healthy.addr() + ": short line");
    REQUIRE(small2.send_all("\n"));  // its line, finished, is said: it was never put out
    CHECK(room.read(healthy) == small2.addr() + ": " + std::string(20000, 'z'));
    CHECK(metric(*srv, "evchat_leaves_total{reason=\"input_memory\"}") == 1);
    stop_evchat(*srv);
}
