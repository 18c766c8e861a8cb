// TLS: the line protocol over TLS in the same room as plain TCP, handshakes that fail or
// stall (never in the room), certificates reloaded by SIGHUP, slow TLS readers, drain with
// close_notify, a PROXY header before the handshake, and the page and WebSocket over
// https. Certificates are made at test time by the openssl tool.
#include "harness.h"
#include "tls_conn.h"
#include "web_client.h"

#include <doctest/doctest.h>

#include <csignal>
#include <fstream>
#include <openssl/ssl.h>
#include <string>

using namespace itest;

namespace {

// An evchat with a chat address (port(0)), a TLS address and an admin address; extra is
// more config, after [tls]'s keys.
struct TlsServer {
    explicit TlsServer(const std::string& extra = "")
    {
        Certificate c = make_certificate(dir, "one", 1);
        cert = c.cert;
        key = c.key;
        ServerOptions opts;
        opts.config = "[admin]\nlisten = \"127.0.0.1:0\"\n[tls]\nlisten = [\"127.0.0.1:0\"]\ncert = \"" + cert +
                      "\"\nkey = \"" + key + "\"\n" + extra;
        srv = start_evchat(opts);
        tls_port = logged_port(*srv, "tls listening on 127.0.0.1:");
    }

    std::unique_ptr<TlsConn> tls(const TlsOptions& o = {})
    {
        std::string why;
        auto t = TlsConn::connect(tls_port, o, &why);
        REQUIRE_MESSAGE(t, "TLS connect: " << why);
        return t;
    }
    std::unique_ptr<Conn> tcp(uint16_t port = 0)
    {
        auto c = Conn::connect("127.0.0.1", port ? port : srv->port());
        REQUIRE(c);
        REQUIRE(c->read_line() == "You are " + c->addr());
        return c;
    }

    TempDir dir;
    std::string cert, key;
    std::unique_ptr<Server> srv;
    uint16_t tls_port = 0;
};

// The next line c hears is its own: nothing about anyone else was said in between.
void hears_only_itself(Conn& c, const std::string& text)
{
    REQUIRE(c.send_all(text + "\n"));
    CHECK(c.read_line() == c.addr() + ": " + text);
}

// Waits (bounded) until the sample reaches at least want.
bool metric_reaches(Server& s, const std::string& sample, double want)
{
    double deadline = now() + kTimeout;
    while (now() < deadline)
        if (metric(s, sample) >= want)
            return true;
    return false;
}

void copy_file(const std::string& from, const std::string& to)
{
    std::ofstream(to, std::ios::binary | std::ios::trunc) << std::ifstream(from, std::ios::binary).rdbuf();
}

}  // namespace

TEST_CASE("tls: a TLS client and a TCP client are in one room, and hear each other")
{
    TlsServer s;
    auto B = s.tcp();
    auto A = s.tls();
    CHECK(A->read_line() == "You are " + A->addr());
    CHECK(B->read_line() == A->addr() + " has arrived");
    REQUIRE(A->send_all("over TLS\n"));
    CHECK(A->read_line() == A->addr() + ": over TLS");
    CHECK(B->read_line() == A->addr() + ": over TLS");
    REQUIRE(B->send_all("over TCP\n"));
    CHECK(A->read_line() == B->addr() + ": over TCP");
    CHECK(B->read_line() == B->addr() + ": over TCP");
    CHECK(metric(*s.srv, "evchat_clients{transport=\"tls\"}") == 1);
    CHECK(metric(*s.srv, "evchat_tls_handshakes_total{result=\"ok\"}") == 1);
    CHECK(metric(*s.srv, "evchat_tls_cert_expiry_timestamp_seconds") > time(nullptr));
    std::string a = A->addr();
    A.reset();  // closed without close_notify: a TLS peer that just goes is a peer that left
    CHECK(B->read_line() == a + " has left");
    stop_evchat(*s.srv);
}

TEST_CASE("tls: TLS 1.1 (openssl s_client -tls1_1, and a client that offers nothing newer) is refused unheard")
{
    TlsServer s;
    auto B = s.tcp();
    RunResult r = run({"/usr/bin/openssl", "s_client", "-tls1_1", "-connect", "127.0.0.1:" + std::to_string(s.tls_port)});
    CHECK(r.status != 0);
    CHECK_MESSAGE(r.out.find("Cipher is (NONE)") != std::string::npos, r.out << r.err);
    std::string why;
    TlsOptions old;
    old.max_version = TLS1_1_VERSION;
    CHECK(!TlsConn::connect(s.tls_port, old, &why));
    CHECK_MESSAGE(why.find("version") != std::string::npos, why);
    hears_only_itself(*B, "nobody arrived");
    CHECK(metric_reaches(*s.srv, "evchat_tls_handshakes_total{result=\"failed\"}", 2));
    CHECK(metric(*s.srv, "evchat_tls_handshakes_total{result=\"ok\"}") == 0);
    stop_evchat(*s.srv);
}

TEST_CASE("tls: plain text and HTTP on the TLS port are closed, and the room never hears of them")
{
    TlsServer s("[log]\nlevel = \"debug\"\n");
    auto B = s.tcp();
    for (const char* plain : {"hello\n", "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"}) {
        CAPTURE(plain);
        auto c = Conn::connect("127.0.0.1", s.tls_port);
        REQUIRE(c);
        REQUIRE(c->send_all(plain));
        bool ended = false;
        std::string said = c->read_until_eof(kTimeout, &ended);
        CHECK(ended);
        CHECK(said.find("You are") == std::string::npos);
    }
    hears_only_itself(*B, "still alone");
    CHECK(s.srv->wait_output("TLS handshake failed: ", 2));
    stop_evchat(*s.srv);
}

TEST_CASE("tls: a handshake that stalls is closed at handshake_timeout; one reset midway costs nothing")
{
    TlsServer s("handshake_timeout = 0.3\n");
    auto B = s.tcp();
    // A ClientHello's record header promising 512 bytes, and then nothing.
    auto stalled = Conn::connect("127.0.0.1", s.tls_port);
    REQUIRE(stalled);
    REQUIRE(stalled->send_all(std::string("\x16\x03\x01\x02\x00\x01", 6)));
    bool ended = false;
    CHECK(stalled->read_until_eof(kTimeout, &ended).empty());
    CHECK(ended);
    CHECK(metric(*s.srv, "evchat_tls_handshakes_total{result=\"timeout\"}") == 1);
    auto reset = Conn::connect("127.0.0.1", s.tls_port);
    REQUIRE(reset);
    REQUIRE(reset->send_all(std::string("\x16\x03\x01\x02\x00\x01", 6)));
    reset->close_rst();
    CHECK(metric_reaches(*s.srv, "evchat_tls_handshakes_total{result=\"failed\"}", 1));
    hears_only_itself(*B, "no arrivals, no leaves");
    stop_evchat(*s.srv);
}

TEST_CASE("tls: SIGHUP reads the certificate again: new clients get the new one, connected ones stay; a bad pair is refused")
{
    TlsServer s;
    auto A = s.tls();
    REQUIRE(A->read_line() == "You are " + A->addr());
    CHECK(A->peer_serial() == "01");
    Certificate two = make_certificate(s.dir, "two", 2);
    copy_file(two.cert, s.cert);
    copy_file(two.key, s.key);
    s.srv->signal(SIGHUP);
    REQUIRE(s.srv->wait_output("serial 02"));
    auto C = s.tls();
    REQUIRE(C->read_line() == "You are " + C->addr());
    CHECK(C->peer_serial() == "02");
    CHECK(A->read_line() == C->addr() + " has arrived");
    REQUIRE(A->send_all("still here\n"));
    CHECK(C->read_line() == A->addr() + ": still here");

    // A key that is not the certificate's: reported, and the pair before it kept.
    Certificate three = make_certificate(s.dir, "three", 3);
    copy_file(three.key, s.key);
    s.srv->signal(SIGHUP);
    REQUIRE(s.srv->wait_output("does not match the certificate"));
    auto D = s.tls();
    REQUIRE(D->read_line() == "You are " + D->addr());
    CHECK(D->peer_serial() == "02");
    CHECK(metric(*s.srv, "evchat_config_reloads_total{result=\"failed\"}") == 1);
    stop_evchat(*s.srv);
}

TEST_CASE("tls: SIGTERM: a TLS client receives what was queued, then close_notify")
{
    TlsServer s;
    auto A = s.tls();
    REQUIRE(A->read_line() == "You are " + A->addr());
    auto B = s.tcp();
    REQUIRE(A->read_line() == B->addr() + " has arrived");
    for (int i = 0; i < 100; i++)
        REQUIRE(B->send_all("line " + std::to_string(i) + "\n"));
    for (int i = 0; i < 100; i++)  // all said (and queued for A, which has not read yet)
        REQUIRE(B->read_line() == B->addr() + ": line " + std::to_string(i));
    s.srv->signal(SIGTERM);
    for (int i = 0; i < 100; i++)
        REQUIRE(A->read_line() == B->addr() + ": line " + std::to_string(i));
    CHECK(A->read_line() == kEof);
    CHECK(A->close_notified());
    REQUIRE(s.srv->wait_exit());
    CHECK(s.srv->exit_status() == 0);
}

TEST_CASE("tls: a TLS client that never reads is a slow consumer by the plaintext it is owed; the others go on")
{
    TlsServer s("[client]\noutput_soft_limit = 100000\noutput_hard_limit = 200000\n");
    TlsOptions small;
    small.rcvbuf = 4096;
    auto A = s.tls(small);
    REQUIRE(A->read_line() == "You are " + A->addr());
    auto B = s.tcp();
    std::string payload(1000, 'x');
    bool gone = false;
    // The kernel's buffers take a few megabytes before evchat's backlog grows at all.
    for (int i = 0; i < 50000 && !gone; i++) {
        REQUIRE(B->send_all(payload + "\n"));
        std::string line = B->read_line();
        gone = line == A->addr() + " has left";
        if (!gone)
            REQUIRE(line == B->addr() + ": " + payload);
    }
    REQUIRE(gone);
    CHECK(B->read_line() == B->addr() + ": " + payload);  // the leave was one line more than B sent
    CHECK(s.srv->wait_output("disconnected: slow consumer"));
    hears_only_itself(*B, "the room goes on");
    stop_evchat(*s.srv);
}

TEST_CASE("tls: from a trusted balancer, the PROXY header and the handshake may come in one write")
{
    TlsServer s("[proxy]\ntrusted = [\"127.0.0.2\"]\n");
    TlsOptions o;
    o.source = "127.0.0.2";
    o.prefix = "PROXY TCP4 203.0.113.7 127.0.0.1 5555 " + std::to_string(s.tls_port) + "\r\n";
    auto A = s.tls(o);
    CHECK(A->read_line() == "You are 203.0.113.7:5555");
    stop_evchat(*s.srv);
}

TEST_CASE("tls: [websocket] tls serves the page over https and the WebSocket over wss")
{
    TlsServer s("[websocket]\nlisten = [\"127.0.0.1:0\"]\ntls = true\n");
    uint16_t web = logged_port(*s.srv, "web listening on 127.0.0.1:");
    auto B = s.tcp();
    {
        std::string why;
        auto page = TlsConn::connect(web, {}, &why);
        REQUIRE_MESSAGE(page, why);
        REQUIRE(page->send_all("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
        CHECK(page->read_line() == "HTTP/1.1 200 OK\r");
    }
    std::string why;
    auto W = TlsConn::connect(web, {}, &why);
    REQUIRE_MESSAGE(W, why);
    REQUIRE(W->send_all("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"));
    CHECK(W->read_line() == "HTTP/1.1 101 Switching Protocols\r");
    REQUIRE(B->read_line().find(" has arrived") != std::string::npos);
    CHECK(metric(*s.srv, "evchat_clients{transport=\"wss\"}") == 1);
    // Plain HTTP to the https port is closed unanswered.
    Reply plain = http(web, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    CHECK(plain.status == 0);
    CHECK(plain.ended);
    stop_evchat(*s.srv);
}

TEST_CASE("tls: a config whose certificate cannot be used is an error at its line, exit status 2")
{
    TempDir dir;
    Certificate one = make_certificate(dir, "one", 1);
    Certificate two = make_certificate(dir, "two", 2);
    struct {
        std::string config, where, says;
    } cases[] = {
        {"[tls]\nlisten = [\"127.0.0.1:0\"]\n", ":2:", "TLS needs [tls] cert and key"},
        {"[tls]\ncert = \"" + dir.file("absent.crt") + "\"\nkey = \"" + one.key + "\"\n", ":2:",
         "No such file or directory"},
        {"[tls]\ncert = \"" + one.cert + "\"\nkey = \"" + two.key + "\"\n", ":3:", "does not match the certificate"},
        {"[tls]\ncert = \"" + one.cert + "\"\nkey = \"" + one.cert + "\"\n", ":3:", "not a PEM private key"},
    };
    for (auto& c : cases) {
        CAPTURE(c.config);
        TempFile file(c.config);
        RunResult r = run({evchat_bin(), "--config", file.path(), "--check-config"});
        CHECK(r.status == 2);
        CHECK_MESSAGE(r.err.find(file.path() + c.where) != std::string::npos, r.err);
        CHECK_MESSAGE(r.err.find(c.says) != std::string::npos, r.err);
    }
}
