// The tools over TLS against the real server's [tls] listener: evchat-cat --tls (with and
// without certificate checks) and --healthcheck tls://. The certificate is made for each
// test by the openssl tool, self-signed, for localhost.
#include "harness.h"
#include "tls_conn.h"
#include "web_client.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using namespace itest;

namespace {

std::string cat_bin()
{
    const char* env = getenv("EVCHAT_CAT");
    return env && *env ? env : "build/evchat-cat";
}

bool contains(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

std::string loopback(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

// evchat with a plain listener (port()) and a TLS one, on a certificate made for the test
// (self-signed, for localhost).
struct TlsServer {
    TlsServer()
    {
        Certificate c = make_certificate(dir, "tools", 1);
        cert = c.cert;
        ServerOptions opts;
        opts.config = "[tls]\nlisten = [\"127.0.0.1:0\"]\ncert = \"" + c.cert + "\"\nkey = \"" + c.key + "\"\n";
        srv = start_evchat(opts);
        tls_port = logged_port(*srv, "tls listening on 127.0.0.1:");
    }

    TempDir dir;
    std::string cert;
    std::unique_ptr<Server> srv;
    uint16_t tls_port = 0;
};

// The lines of text ending in '\n'.
std::vector<std::string> lines_of(const std::string& text)
{
    std::vector<std::string> out;
    for (size_t pos = 0, eol; (eol = text.find('\n', pos)) != std::string::npos; pos = eol + 1)
        out.push_back(text.substr(pos, eol - pos));
    return out;
}

}  // namespace

// ---- evchat-cat --tls ----

TEST_CASE("tls: evchat-cat --tls --insecure chats with a TCP client through the server, both ways")
{
    TlsServer s;
    auto& srv = s.srv;
    const uint16_t tls_port = s.tls_port;
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& B = room.join();
    const std::string fifo = s.dir.file("input");
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    Server cat({"/bin/sh", "-c",
                "exec '" + cat_bin() + "' --tls --insecure " + loopback(tls_port) + " < '" + fifo + "'"});
    INFO("evchat-cat output: " << cat.output_tail());
    int w = open_fifo_writer(fifo, cat);
    REQUIRE(w >= 0);
    const std::string cat_addr = arrived(B);

    REQUIRE(write(w, "from cat over TLS\n", 18) == 18);
    CHECK(B.read_line() == cat_addr + ": from cat over TLS");
    REQUIRE(B.send_all("from B over TCP\n"));
    CHECK(B.read_line() == B.addr() + ": from B over TCP");
    const std::string want = "You are " + cat_addr + "\n" + cat_addr + ": from cat over TLS\n" + B.addr() +
                             ": from B over TCP\n";
    for (double deadline = now() + kTimeout; cat.output() != want && now() < deadline && cat.running();)
        usleep(5000);  // polling the client's output file, within a deadline
    CHECK(escape(cat.output()) == escape(want));

    // The end of its input: close_notify and the half-close; the server says the leave
    // and closes, and the client exits 0 with nothing lost.
    close(w);
    CHECK(B.read_line() == cat_addr + " has left");
    REQUIRE(cat.wait_exit());
    CHECK(cat.exit_status() == 0);
    CHECK(escape(cat.output()) == escape(want));
    stop_evchat(*srv);
}

TEST_CASE("tls: evchat-cat --tls --insecure sends a whole file and prints every echo, the last one too")
{
    TlsServer s;
    auto& srv = s.srv;
    const uint16_t tls_port = s.tls_port;
    INFO("server output: " << srv->output_tail());
    std::string text;
    for (int i = 0; i < 300; i++)  // several TLS records each way
        text += "line " + std::to_string(i) + " " + std::string(static_cast<size_t>(i % 200), 'x') + "\n";
    TempFile input(text, ".txt");
    RunResult r = run({"/bin/sh", "-c",
                       "exec '" + cat_bin() + "' --tls --insecure " + loopback(tls_port) + " < '" + input.path() + "'"});
    CAPTURE(r.err);
    CHECK(r.status == 0);
    CHECK(r.err == "");
    std::vector<std::string> out = lines_of(r.out);
    REQUIRE(out.size() == 301);
    REQUIRE(out[0].rfind("You are 127.0.0.1:", 0) == 0);
    const std::string cat_addr = out[0].substr(8);
    std::vector<std::string> sent = lines_of(text);
    for (size_t i = 0; i < sent.size(); i++)
        REQUIRE(out[i + 1] == cat_addr + ": " + sent[i]);
    stop_evchat(*srv);
}

TEST_CASE("tls: evchat-cat --tls checks the certificate: a self-signed one fails with exit 1, a trusted one passes")
{
    TlsServer s;
    auto& srv = s.srv;
    const uint16_t tls_port = s.tls_port;
    INFO("server output: " << srv->output_tail());
    RunResult r = run({cat_bin(), "--tls", loopback(tls_port)});
    CAPTURE(r.err);
    CHECK(r.status == 1);
    CHECK(r.out == "");
    CHECK(r.err == "evchat-cat: " + loopback(tls_port) + ": TLS: certificate verify failed: self-signed certificate\n");

    // Trusted (SSL_CERT_FILE stands in for the system's store), and made out to the host.
    r = run({"/usr/bin/env", "SSL_CERT_FILE=" + s.cert, cat_bin(), "--tls", "localhost:" + std::to_string(tls_port)});
    CHECK(r.status == 0);
    CHECK(r.out.rfind("You are 127.0.0.1:", 0) == 0);
    CHECK(r.err == "");
    // A plain listener is no TLS server.
    r = run({cat_bin(), "--tls", "--insecure", loopback(srv->port())});
    CHECK(r.status == 1);
    CHECK(contains(r.err, "evchat-cat: " + loopback(srv->port()) + ": TLS: "));
    stop_evchat(*srv);
}

// ---- --healthcheck tls:// ----

TEST_CASE("tls: --healthcheck tls:// exits 0 against a TLS listener, 1 against a plain one or a closed port")
{
    TlsServer s;
    auto& srv = s.srv;
    const uint16_t tls_port = s.tls_port;
    INFO("server output: " << srv->output_tail());
    std::string target = "tls://" + loopback(tls_port);
    RunResult r = run({evchat_bin(), "--healthcheck", target});
    CAPTURE(r.err);
    CHECK(r.status == 0);
    CHECK(r.out == target + ": ok\n");

    target = "tls://" + loopback(srv->port());
    r = run({evchat_bin(), "--healthcheck", target});
    CHECK(r.status == 1);
    CHECK(r.out == "");
    CHECK(r.err.rfind(target + ": TLS: ", 0) == 0);

    target = "tls://" + loopback(free_port());
    r = run({evchat_bin(), "--healthcheck", target});
    CHECK(r.status == 1);
    CHECK(r.err == target + ": Connection refused\n");

    // tls+verify:// checks the certificate: refused as it is, accepted when trusted.
    target = "tls+verify://localhost:" + std::to_string(tls_port);
    r = run({evchat_bin(), "--healthcheck", target});
    CHECK(r.status == 1);
    CHECK(r.err == target + ": TLS: certificate verify failed: self-signed certificate\n");
    r = run({"/usr/bin/env", "SSL_CERT_FILE=" + s.cert, evchat_bin(), "--healthcheck", target});
    CHECK(r.status == 0);
    CHECK(r.out == target + ": ok\n");
    stop_evchat(*srv);
}
