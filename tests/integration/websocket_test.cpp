// WebSocket: browsers' clients in the same room as TCP clients, on the real binary over
// real sockets — the HTTP routes, the handshake's refusals, every protocol error and its
// close code, UTF-8 repair, the limits and the drain.
#include "harness.h"
#include "web_client.h"

#include <doctest/doctest.h>

#include <csignal>
#include <fstream>
#include <string>

using namespace itest;

namespace {

// An evchat with a WebSocket listener; web is its port.
struct WebServer {
    explicit WebServer(const std::string& extra = "")
    {
        ServerOptions opts;
        opts.config = "[websocket]\nlisten = [\"127.0.0.1:0\"]\n" + extra;
        srv = start_evchat(opts);
        web = logged_port(*srv, "web listening on 127.0.0.1:");
    }
    std::unique_ptr<WsConn> join(Room* room = nullptr)
    {
        auto ws = WsConn::connect(web);
        REQUIRE(ws);
        CHECK(ws->read_message() == "You are " + ws->addr());
        if (room)
            for (size_t i = 0; i < room->size(); i++)
                if (!(*room)[i].ended())
                    CHECK(room->read((*room)[i]) == ws->addr() + " has arrived");
        return ws;
    }
    std::unique_ptr<Server> srv;
    uint16_t web = 0;
};

}  // namespace

TEST_CASE("websocket: a browser's client and a TCP client chat both ways in one room")
{
    WebServer s;
    Room room("127.0.0.1", s.srv->port());
    Conn& tcp = room.join();
    auto ws = s.join(&room);
    REQUIRE(ws->send_text("hello from a browser"));
    CHECK(tcp.read_line() == ws->addr() + ": hello from a browser");
    CHECK(ws->read_message() == ws->addr() + ": hello from a browser");
    REQUIRE(tcp.send_all("hello from nc\n"));
    CHECK(ws->read_message() == tcp.addr() + ": hello from nc");
    CHECK(tcp.read_line() == tcp.addr() + ": hello from nc");
    // A message holding "\n" is several lines; each line the room says is one message.
    REQUIRE(ws->send_text("one\r\ntwo"));
    for (const char* line : {"one", "two"}) {
        CHECK(tcp.read_line() == ws->addr() + ": " + line);
        CHECK(ws->read_message() == ws->addr() + ": " + line);
    }
    // A newcomer over TCP is announced to the browser too, and so is a leave.
    Conn& late = room.join();
    CHECK(ws->read_message() == late.addr() + " has arrived");
    late.close();
    CHECK(ws->read_message() == late.addr() + " has left");
    CHECK(tcp.read_line() == late.addr() + " has left");
    // The browser's own close: answered, and the room hears it leave.
    REQUIRE(ws->send_frame(8, std::string("\x03\xe8", 2)));
    CHECK(ws->read_message() == close_mark(1000));
    CHECK(tcp.read_line() == ws->addr() + " has left");
    stop_evchat(*s.srv);
}

TEST_CASE("websocket: bytes that are not UTF-8 reach a browser repaired, and TCP unchanged")
{
    WebServer s;
    Room room("127.0.0.1", s.srv->port());
    Conn& tcp = room.join();
    auto ws = s.join(&room);
    REQUIRE(tcp.send_all("caf\xc3\xa9 \xff\xfe end\n"));
    CHECK(tcp.read_line() == tcp.addr() + ": caf\xc3\xa9 \xff\xfe end");
    CHECK(ws->read_message() == tcp.addr() + ": caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd end");
    stop_evchat(*s.srv);
}

TEST_CASE("websocket: each broken rule gets the close RFC 6455 names, and the room hears the leave")
{
    WebServer s("[client]\nmax_line_bytes = 1024\n");
    Room room("127.0.0.1", s.srv->port());
    Conn& tcp = room.join();
    struct Case {
        const char* what;
        int opcode;
        std::string payload;
        bool mask;
        int code;
    };
    for (const Case& c : {Case{"unmasked", 1, "hi", false, 1002}, Case{"binary", 2, "bin", true, 1003},
                          Case{"bad opcode", 3, "x", true, 1002}, Case{"bad UTF-8", 1, "a\xff", true, 1007},
                          Case{"too big", 1, std::string(2000, 'x'), true, 1009}}) {
        CAPTURE(c.what);
        auto ws = s.join(&room);
        REQUIRE(ws->send_frame(c.opcode, c.payload, true, c.mask));
        CHECK(ws->read_message() == close_mark(c.code));
        CHECK(tcp.read_line() == ws->addr() + " has left");
        bool ended = false;
        ws->conn().read_until_eof(kTimeout, &ended);
        CHECK(ended);  // and then the server closes the connection
    }
    stop_evchat(*s.srv);
}

TEST_CASE("websocket: pings are answered, fragments are joined, and a slow sender is no problem")
{
    WebServer s;
    auto ws = s.join();
    REQUIRE(ws->send_frame(9, "are you there"));
    WsConn::Frame pong = ws->read_frame();
    CHECK(pong.opcode == 10);
    CHECK(pong.payload == "are you there");
    REQUIRE(ws->send_frame(1, "frag", false));
    REQUIRE(ws->send_frame(9, ""));  // a control frame between fragments
    REQUIRE(ws->send_frame(0, "mented"));
    // The pong and the line, in either order: a pong goes after what the room said so far.
    std::string got[2];
    for (std::string& g : got) {
        WsConn::Frame f = ws->read_frame();
        g = f.opcode == 10 ? "pong" : f.payload;
    }
    CHECK(((got[0] == "pong" && got[1] == ws->addr() + ": fragmented") ||
           (got[1] == "pong" && got[0] == ws->addr() + ": fragmented")));
    // One frame, a byte at a time.
    std::string f = "\x81\x83" "abcd" "\x09\x0b\x42";  // "hi!" masked with "abcd"
    for (char b : f)
        REQUIRE(ws->conn().send_all(std::string(1, b)));
    CHECK(ws->read_message() == ws->addr() + ": hi!");
    stop_evchat(*s.srv);
}

TEST_CASE("websocket: the HTTP routes and the handshake's refusals")
{
    WebServer s("origins = []\n");
    Reply page = get(s.web, "/");
    CHECK(page.status == 200);
    CHECK(page.header("content-type") == "text/html; charset=utf-8");
    CHECK(page.header("content-security-policy").find("default-src 'none'") != std::string::npos);
    CHECK(page.body.find("<title>evchat</title>") != std::string::npos);
    CHECK(page.ended);
    CHECK(get(s.web, "/nope").status == 404);
    CHECK(http(s.web, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").status == 405);
    CHECK(http(s.web, "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n").status == 400);  // no upgrade
    CHECK(http(s.web, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n")
              .header("sec-websocket-version") == "13");
    Reply foreign;
    CHECK(!WsConn::connect(s.web, "Origin: http://elsewhere.example\r\n", &foreign));
    CHECK(foreign.status == 403);
    auto own = WsConn::connect(s.web, "Origin: http://127.0.0.1:" + std::to_string(s.web) + "\r\n");
    CHECK(own);
    stop_evchat(*s.srv);
}

TEST_CASE("websocket: the same limits as TCP — a slow reader is put out, a full server refuses in frames")
{
    WebServer s("[server]\nmax_clients = 3\n[client]\nmax_line_bytes = 4096\noutput_soft_limit = 4096\n"
                "output_hard_limit = \"64KiB\"\n");
    Room room("127.0.0.1", s.srv->port());
    Conn& talker = room.join();
    auto slow = WsConn::connect(s.web, "", nullptr, 4096);  // never reads
    REQUIRE(slow);
    CHECK(room.read(talker) == slow->addr() + " has arrived");
    auto fine = s.join(&room);
    // Over max_clients: upgraded, told why, closed with "try again later".
    auto refused = WsConn::connect(s.web);
    REQUIRE(refused);
    CHECK(refused->read_message() == "error: server full");
    CHECK(refused->read_message() == close_mark(1013));
    // The room talks; the reader that does not read is put out, the others hear it leave.
    std::string line(1000, 'x');
    bool left = false;
    for (int i = 0; i < 3000 && !left; i++) {
        REQUIRE(talker.send_all(line + "\n"));
        for (std::string got; !left && (got = talker.read_line(2.0)) != talker.addr() + ": " + line;) {
            REQUIRE(!is_mark(got));
            left = got == slow->addr() + " has left";
        }
        fine->read_message();
    }
    CHECK(left);
    CHECK(s.srv->wait_output(slow->addr() + " disconnected: slow consumer"));
    stop_evchat(*s.srv);
}

TEST_CASE("websocket: a shutdown says going away (1001) after what was queued")
{
    WebServer s;
    auto ws = s.join();
    REQUIRE(ws->send_text("last words"));
    CHECK(ws->read_message() == ws->addr() + ": last words");
    s.srv->signal(SIGTERM);
    CHECK(ws->read_message() == close_mark(1001));
    CHECK(s.srv->wait_exit());
    CHECK(s.srv->exit_status() == 0);
}

TEST_CASE("websocket: names, commands and the idle timeout are the session's, as for TCP")
{
    WebServer s("[room]\nnames = true\ncommands = true\n[client]\nidle_timeout = 0.5\n");
    auto ws = WsConn::connect(s.web);
    REQUIRE(ws);
    CHECK(ws->read_message() == "Your name?");
    REQUIRE(ws->send_text("ada"));
    CHECK(ws->read_message() == "You are ada");
    REQUIRE(ws->send_text("/me waves"));
    CHECK(ws->read_message() == "* ada waves");
    CHECK(ws->read_message(3.0) == "error: idle timeout");
    CHECK(ws->read_message() == close_mark(1000));
    stop_evchat(*s.srv);
}

TEST_CASE("websocket: [websocket] listen follows a reload; /metrics counts by transport")
{
    TempFile config("[websocket]\nlisten = [\"127.0.0.1:0\"]\n[admin]\nlisten = \"127.0.0.1:0\"\n");
    std::unique_ptr<Server> srv(new Server({evchat_bin(), "--config", config.path(), "--listen", "127.0.0.1:0"}));
    REQUIRE(srv->wait_listening(1));
    uint16_t web = logged_port(*srv, "web listening on 127.0.0.1:");
    uint16_t admin = logged_port(*srv, "admin listening on 127.0.0.1:");
    Room room("127.0.0.1", srv->port());
    room.join();
    auto ws = WsConn::connect(web);
    REQUIRE(ws);
    CHECK(ws->read_message() == "You are " + ws->addr());
    auto m = samples(get(admin, "/metrics").body);
    CHECK(m["evchat_clients{transport=\"websocket\"}"] == 1);
    CHECK(m["evchat_clients{transport=\"tcp\"}"] == 1);
    CHECK(m["evchat_connections_accepted_total{transport=\"websocket\"}"] == 1);
    {
        std::ofstream f(config.path());
        f << "[websocket]\nlisten = []\n[admin]\nlisten = \"127.0.0.1:0\"\n";
    }
    srv->signal(SIGHUP);
    REQUIRE(srv->wait_output("web no longer listening on 127.0.0.1:" + std::to_string(web)));
    CHECK(!Conn::connect("127.0.0.1", web, 0, 1.0));
    CHECK(ws->send_text("still here"));  // connected clients stay
    CHECK(ws->read_message() == ws->addr() + ": still here");
    stop_evchat(*srv);
}
