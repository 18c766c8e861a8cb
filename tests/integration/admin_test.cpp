// The admin listener: exact counters after a known workload, the exposition checked by
// promtool, /healthz through a shutdown, `evchat --stats`, reload of [admin], and bad or
// hostile admin clients that must neither get an answer they should not nor slow the chat.
#include "harness.h"
#include "web_client.h"

#include <doctest/doctest.h>

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <poll.h>
#include <string>
#include <unistd.h>
#include <vector>

using namespace itest;

namespace {

// The admin listener's port: its line comes after the chat "listening on" lines, so
// start_evchat() has already taken the chat port from the first of them.
uint16_t admin_port(Server& s, size_t nth = 1)
{
    return logged_port(s, "admin listening on 127.0.0.1:", nth);
}

std::string find_promtool()
{
    for (const char* dir : {"/usr/bin", "/usr/local/bin", "/bin"}) {
        std::string path = std::string(dir) + "/promtool";
        if (access(path.c_str(), X_OK) == 0)
            return path;
    }
    return "";
}

// promtool's verdict on an exposition ("" when it has nothing to say), or nullopt-ish
// "SKIP" when promtool is not installed.
std::string promtool_check(const std::string& exposition)
{
    std::string promtool = find_promtool();
    if (promtool.empty())
        return "SKIP";
    TempFile f(exposition, ".prom");
    RunResult r = run({"/bin/sh", "-c", "exec \"$0\" check metrics < \"$1\"", promtool, f.path()});
    return r.status == 0 ? r.out + r.err : "status " + std::to_string(r.status) + ": " + r.out + r.err;
}

// A connection whose every byte received is counted: what the server wrote to it.
struct Counted {
    explicit Counted(Conn& conn) : c(conn) {}
    Conn& c;
    uint64_t bytes = 0;
    std::vector<std::string> lines;
    std::string line(double timeout = kTimeout)
    {
        std::string l = c.read_line(timeout);
        if (!is_mark(l))
            take(l);
        return l;
    }
    void available()
    {
        c.read_available();
        for (std::string l; c.pop_line(l);)
            take(l);
    }
    bool until_eof()
    {
        bool ended = false;
        bytes += c.read_until_eof(kTimeout, &ended).size();
        return ended;
    }
    void take(const std::string& l)
    {
        bytes += l.size() + 1;
        lines.push_back(l);
    }
};

// Deliveries as the room counts them, replayed from the lines of a member that was in the
// room from the start and heard everything: each line reaches everyone present, an
// arrival everyone but the newcomer, a leave everyone but the leaver.
uint64_t replay_deliveries(const std::vector<std::string>& heard, size_t present)
{
    uint64_t deliveries = 0;
    auto ends = [](const std::string& s, const std::string& tail) {
        return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
    };
    for (const std::string& l : heard) {
        if (l.find(": ") != std::string::npos) {
            deliveries += present;
        } else if (ends(l, " has arrived")) {
            deliveries += present++;
        } else if (ends(l, " has left")) {
            deliveries += --present;
        } else {
            FAIL("unexpected line " << escape(l));
        }
    }
    return deliveries;
}

}  // namespace

TEST_CASE("admin: /metrics counts a known workload exactly, and promtool accepts it")
{
    ServerOptions opts;
    opts.config = "[server]\nmax_clients = 4\n"
                  "[client]\nmax_line_bytes = 1024\noutput_soft_limit = \"32KiB\"\n"
                  "output_hard_limit = \"64KiB\"\noutput_soft_seconds = 600\n"
                  "[admin]\nlisten = \"127.0.0.1:0\"\n";
    double started = static_cast<double>(time(nullptr));
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    uint16_t admin = admin_port(*srv);
    REQUIRE(admin != srv->port());

    Reply first = get(admin, "/metrics");
    REQUIRE(first.status == 200);
    CHECK(first.header("content-type") == "text/plain; version=0.0.4; charset=utf-8");
    CHECK(first.header("content-length") == std::to_string(first.body.size()));
    CHECK(first.ended);
    CHECK(samples(first.body)["evchat_connections_accepted_total{transport=\"tcp\"}"] == 0);

    // B, A, S (never reads), L: max_clients. R is refused.
    auto b_conn = Conn::connect("127.0.0.1", srv->port());
    REQUIRE(b_conn);
    Counted B{*b_conn};
    REQUIRE(B.line() == "You are " + b_conn->addr());
    B.lines.clear();  // from here, B's lines are the room's, for the replay
    auto a_conn = Conn::connect("127.0.0.1", srv->port());
    REQUIRE(a_conn);
    Counted A{*a_conn};
    REQUIRE(A.line() == "You are " + a_conn->addr());
    REQUIRE(B.line() == a_conn->addr() + " has arrived");
    auto s_conn = Conn::connect("127.0.0.1", srv->port(), 4096);
    REQUIRE(s_conn);
    Counted S{*s_conn};
    REQUIRE(B.line() == s_conn->addr() + " has arrived");
    REQUIRE(A.line() == s_conn->addr() + " has arrived");
    auto l_conn = Conn::connect("127.0.0.1", srv->port());
    REQUIRE(l_conn);
    Counted L{*l_conn};
    REQUIRE(L.line() == "You are " + l_conn->addr());
    REQUIRE(B.line() == l_conn->addr() + " has arrived");
    REQUIRE(A.line() == l_conn->addr() + " has arrived");
    auto refused = Conn::connect("127.0.0.1", srv->port());
    REQUIRE(refused);
    CHECK(refused->read_line() == "error: server full");
    CHECK(refused->read_line() == kEof);
    uint64_t bytes_in = 0;

    // L sends a line over max_line_bytes, in one segment so that one read takes it all.
    std::string overlong(1100, 'x');
    REQUIRE(l_conn->send_all(overlong + "\n"));
    bytes_in += overlong.size() + 1;
    CHECK(L.line() == "error: line too long (max 1024 bytes)");
    CHECK(L.line() == kEof);
    l_conn->close();
    REQUIRE(B.line() == l_conn->addr() + " has left");
    REQUIRE(A.line() == l_conn->addr() + " has left");

    // A says n lines (10 MB for each reader: far beyond S's socket buffers) and reads them
    // back, as B does; S, which never reads, is disconnected as a slow consumer.
    const int n = 10000;
    const size_t width = 1000;
    std::string flood;
    for (int i = 0; i < n; i++)
        flood += numbered(i, width) + "\n";
    bytes_in += flood.size();
    std::string s_left = s_conn->addr() + " has left";
    std::string a_says = a_conn->addr() + ": ";
    auto heard = [&](const Counted& c) {  // (A's lines, S's leaves) among c's lines
        size_t said = 0, left = 0;
        for (const std::string& l : c.lines) {
            said += l.compare(0, a_says.size(), a_says) == 0;
            left += l == s_left;
        }
        return std::make_pair(said, left);
    };
    size_t off = 0;
    double deadline = now() + 12 * kTimeout;
    while (now() < deadline && !(heard(A) == std::make_pair(size_t(n), size_t(1)) &&
                                 heard(B) == std::make_pair(size_t(n), size_t(1)))) {
        pollfd fds[2] = {{a_conn->fd(), static_cast<short>(POLLIN | (off < flood.size() ? POLLOUT : 0)), 0},
                         {b_conn->fd(), POLLIN, 0}};
        poll(fds, 2, 100);
        if (off < flood.size() && (fds[0].revents & POLLOUT)) {
            long k = a_conn->send_some(flood.data() + off, std::min<size_t>(flood.size() - off, 256 * 1024));
            REQUIRE(k >= 0);
            off += static_cast<size_t>(k);
        }
        A.available();
        B.available();
        REQUIRE(!a_conn->ended());
        REQUIRE(!b_conn->ended());
    }
    REQUIRE(heard(A) == std::make_pair(size_t(n), size_t(1)));
    REQUIRE(heard(B) == std::make_pair(size_t(n), size_t(1)));
    CHECK(S.until_eof());  // closed: everything it got is counted now

    // C arrives, says one line, and leaves by closing its side (EOF).
    auto c_conn = Conn::connect("127.0.0.1", srv->port());
    REQUIRE(c_conn);
    Counted C{*c_conn};
    REQUIRE(C.line() == "You are " + c_conn->addr());
    REQUIRE(B.line() == c_conn->addr() + " has arrived");
    REQUIRE(A.line() == c_conn->addr() + " has arrived");
    REQUIRE(c_conn->send_all("bye\n"));
    bytes_in += 4;
    REQUIRE(C.line() == c_conn->addr() + ": bye");
    c_conn->shutdown_write();
    CHECK(C.until_eof());
    REQUIRE(B.line() == c_conn->addr() + ": bye");
    REQUIRE(B.line() == c_conn->addr() + " has left");
    REQUIRE(A.line() == c_conn->addr() + ": bye");
    REQUIRE(A.line() == c_conn->addr() + " has left");

    // One reload that works, one that does not.
    srv->signal(SIGHUP);
    REQUIRE(srv->wait_output("reloaded "));
    { std::ofstream(srv->config->path()) << "[server]\nbogus = 1\n"; }
    srv->signal(SIGHUP);
    REQUIRE(srv->wait_output("reload failed"));

    // C's and S's connections are gone once the server has closed them: wait for that.
    std::map<std::string, double> m;
    std::string body;
    deadline = now() + kTimeout;
    do {
        Reply r = get(admin, "/metrics");
        REQUIRE(r.status == 200);
        body = r.body;
        m = samples(body);
    } while (m["evchat_clients{transport=\"tcp\"}"] != 2 && now() < deadline && usleep(10000) == 0);
    CAPTURE(body);

    CHECK(m["evchat_clients{transport=\"tcp\"}"] == 2);
    CHECK(m["evchat_room_members"] == 2);
    CHECK(m["evchat_connections_accepted_total{transport=\"tcp\"}"] == 5);
    CHECK(m["evchat_connections_rejected_total{reason=\"full\"}"] == 1);
    CHECK(m["evchat_connections_rejected_total{reason=\"per_ip\"}"] == 0);
    CHECK(m["evchat_connections_rejected_total{reason=\"fd_limit\"}"] == 0);
    CHECK(m["evchat_leaves_total{reason=\"eof\"}"] == 1);
    CHECK(m["evchat_leaves_total{reason=\"slow_consumer\"}"] == 1);
    CHECK(m["evchat_leaves_total{reason=\"line_too_long\"}"] == 1);
    for (const char* r : {"reset", "idle", "flood", "quit", "write_error", "protocol_error"})
        CHECK_MESSAGE(m[std::string("evchat_leaves_total{reason=\"") + r + "\"}"] == 0, r);
    CHECK(m["evchat_lines_said_total"] == n + 1);
    CHECK(m["evchat_lines_received_total"] == n + 1);
    CHECK(m["evchat_deliveries_total"] == replay_deliveries(B.lines, 1));
    CHECK(m["evchat_input_bytes_total"] == bytes_in);
    CHECK(m["evchat_output_bytes_total"] == A.bytes + B.bytes + S.bytes + L.bytes + C.bytes);
    CHECK(m["evchat_lines_dropped_total"] == 0);
    CHECK(m["evchat_backlog_bytes"] == 0);
    CHECK(m["evchat_backlog_largest_bytes"] == 0);
    CHECK(m["evchat_room_log_chunks"] == 1);  // only the tail: every reader is at the end
    CHECK(m["evchat_room_log_bytes"] > 0);
    CHECK(m["evchat_loop_iterations_total"] > 0);
    CHECK(m["evchat_config_reloads_total{result=\"ok\"}"] == 1);
    CHECK(m["evchat_config_reloads_total{result=\"failed\"}"] == 1);
    CHECK(m["process_cpu_seconds_total"] > 0);
    CHECK(m["process_cpu_seconds_total"] <= srv->cpu_seconds() + 0.05);
    CHECK(m["process_resident_memory_bytes"] > 1e6);
    CHECK(m["process_virtual_memory_bytes"] >= m["process_resident_memory_bytes"]);
    CHECK(m["process_open_fds"] >= 6);  // stdio, the loop, two listeners, two clients
    CHECK(m["process_open_fds"] < 64);
    CHECK(m["process_max_fds"] > 0);
    CHECK(std::fabs(m["process_start_time_seconds"] - started) < 5);

    std::string verdict = promtool_check(body);
    if (verdict == "SKIP")
        MESSAGE("SKIPPED: promtool not found (Debian package prometheus); exposition not validated");
    else
        CHECK_MESSAGE(verdict == "", "promtool check metrics: " << verdict);

    // Every family is documented.
    std::string readme = read_file(repo_file("README.md"));
    REQUIRE(!readme.empty());
    for (size_t pos = body.find("# TYPE "); pos != std::string::npos; pos = body.find("# TYPE ", pos + 1)) {
        std::string name = body.substr(pos + 7, body.find(' ', pos + 7) - pos - 7);
        CHECK_MESSAGE(readme.find("`" + name) != std::string::npos, name << " is not in README.md");
    }

    // evchat --stats: the same figures as a table.
    RunResult stats = run({evchat_bin(), "--stats", "127.0.0.1:" + std::to_string(admin)});
    CAPTURE(stats.err);
    CHECK(stats.status == 0);
    CHECK(stats.out.find("evchat_connections_accepted_total") != std::string::npos);
    CHECK(stats.out.find("evchat_leaves_total{reason=\"slow_consumer\"}") != std::string::npos);
    bool found = false;
    for (size_t pos = 0; pos < stats.out.size();) {
        size_t eol = stats.out.find('\n', pos);
        std::string line = stats.out.substr(pos, eol - pos);
        pos = eol == std::string::npos ? stats.out.size() : eol + 1;
        if (line.rfind("evchat_connections_accepted_total{transport=\"tcp\"} ", 0) == 0)
            found = line.find(" 5  ") != std::string::npos;
    }
    CHECK_MESSAGE(found, stats.out);
    // On the chat port there is no HTTP, so --stats fails there (and the room sees it come).
    RunResult wrong = run({evchat_bin(), "--stats", "127.0.0.1:" + std::to_string(srv->port())});
    CHECK(wrong.status == 1);
    CHECK(wrong.err.find("not an HTTP answer") != std::string::npos);
    stop_evchat(*srv);
}

TEST_CASE("admin: /healthz is 200 while serving and 503 while shutting down")
{
    ServerOptions opts;
    opts.config = "[server]\nshutdown_grace = 30.0\n[client]\noutput_hard_limit = \"64MiB\"\n"
                  "output_soft_limit = \"32MiB\"\n[admin]\nlisten = \"127.0.0.1:0\"\n";
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    uint16_t admin = admin_port(*srv);
    Reply ok = get(admin, "/healthz");
    CHECK(ok.status == 200);
    CHECK(ok.body == "ok\n");
    CHECK(ok.header("content-type") == "text/plain; charset=utf-8");

    // S's backlog keeps the server in its shutdown grace: P fills it and reads its echoes.
    Room room("127.0.0.1", srv->port());
    Conn& S = room.join(4096);
    Conn& P = room.join();
    std::string text;
    for (int i = 0; i < 60000; i++)
        text += numbered(i, 80) + "\n";
    size_t echoed = send_and_hear(P, text, 60000);
    REQUIRE(echoed == 60000);

    srv->signal(SIGTERM);
    REQUIRE(srv->wait_output("shutting down"));
    Reply closing = get(admin, "/healthz");
    CHECK(closing.status == 503);
    CHECK(closing.body == "shutting down\n");
    CHECK(get(admin, "/metrics").status == 200);  // figures stay readable to the end
    CHECK_FALSE(Conn::connect("127.0.0.1", srv->port(), 0, 2.0));  // chat accepts no more
    bool ended = false;
    S.read_until_eof(3 * kTimeout, &ended);
    CHECK(ended);
    CHECK(srv->wait_exit(3 * kTimeout));
    CHECK(srv->exit_status() == 0);
}

TEST_CASE("admin: bad requests get their 4xx, hostile clients are cut off, the chat goes on")
{
    ServerOptions opts;
    opts.config = "[admin]\nlisten = \"127.0.0.1:0\"\ntimeout = 0.5\nmax_connections = 4\n";
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    uint16_t admin = admin_port(*srv);
    Room room("127.0.0.1", srv->port());
    Conn& A = room.join();
    Conn& B = room.join();
    int said = 0;
    // A line through the room, heard well before any admin timeout could free a loop
    // that an admin client had stalled.
    auto chat = [&] {
        std::string text = "still chatting " + std::to_string(said++);
        REQUIRE(A.send_all(text + "\n"));
        CHECK(B.read_line(2.0) == A.addr() + ": " + text);
        CHECK(A.read_line(2.0) == A.addr() + ": " + text);
    };

    SUBCASE("malformed requests")
    {
        struct Case {
            std::string request;
            int status;
        };
        std::vector<Case> cases = {
            {"hello\r\n\r\n", 400},
            {std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11), 400},  // TLS
            {"GET /metrics HTTP/1.1\r\n\r\n", 400},  // no Host
            {"GET /metrics HTTP/1.1\r\nHost: x\r\nbad header\r\n\r\n", 400},
            {"GET /metrics HTTP/2.0\r\n\r\n", 505},
            {"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", 404},
            {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 404},
            {"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 405},
            {"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 405},
            {"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n", 431},
            {"GET /" + std::string(20000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", 414},
        };
        for (const Case& c : cases) {
            CAPTURE(escape(c.request, 60));
            Reply r = http(admin, c.request);
            CHECK(r.status == c.status);
            CHECK(r.ended);  // one response, then the server closes
            CHECK(r.header("connection") == "close");
            CHECK(r.header("content-length") == std::to_string(r.body.size()));
            if (c.status == 405)
                CHECK(r.header("allow") == "GET");
            chat();
        }
        // Two requests in one connection: one answer, then close.
        Reply two = http(admin, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        CHECK(two.status == 200);
        CHECK(two.raw.find("HTTP/1.1", 1) == std::string::npos);
        // HTTP/1.0 needs no Host; an absolute URL is a path too.
        CHECK(http(admin, "GET /healthz HTTP/1.0\r\n\r\n").status == 200);
        CHECK(http(admin, "GET http://127.0.0.1/healthz?x=1 HTTP/1.1\r\nHost: y\r\n\r\n").status == 200);
    }

    SUBCASE("a client that never sends its request gets 408 at the timeout")
    {
        double t0 = now();
        auto silent = Conn::connect("127.0.0.1", admin);
        auto partial = Conn::connect("127.0.0.1", admin);
        REQUIRE(silent);
        REQUIRE(partial);
        REQUIRE(partial->send_all("GET /metrics HTTP/1.1\r\nHost: x\r\n"));
        chat();
        for (Conn* c : {silent.get(), partial.get()}) {
            bool ended = false;
            std::string raw = c->read_until_eof(3.0, &ended);
            Reply r = parse_reply(raw, ended);
            CHECK(r.status == 408);
            CHECK(r.ended);
        }
        double took = now() - t0;
        CHECK(took >= 0.45);
        CHECK(took < 3.0);  // the configured 0.5 s: the default 5 s would outlast both reads
    }

    SUBCASE("a drip-feeding client is cut off at the timeout, however busy it looks")
    {
        auto drip = Conn::connect("127.0.0.1", admin);
        REQUIRE(drip);
        std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ";
        double t0 = now();
        size_t i = 0;
        bool cut = false;
        while (!cut && now() - t0 < 3.0) {
            cut = drip->send_some(&request[i % request.size()], 1) < 0;
            i++;
            drip->wait_readable(0.05);
            drip->read_available();
            cut = cut || drip->ended();
        }
        CHECK(cut);  // by the 0.5 s timeout, long before 3 s of dripping
        chat();
    }

    SUBCASE("over max_connections a newcomer is closed at once; the others time out")
    {
        std::vector<std::unique_ptr<Conn>> idle;
        for (int i = 0; i < 4; i++) {
            idle.push_back(Conn::connect("127.0.0.1", admin));
            REQUIRE(idle.back());
        }
        // The kernel's accept queue is FIFO: the server takes these four before the extras.
        for (int i = 0; i < 3; i++) {
            auto extra = Conn::connect("127.0.0.1", admin);
            REQUIRE(extra);
            bool ended = false;
            std::string got = extra->read_until_eof(2.0, &ended);
            CHECK(ended);
            CHECK(got == "");  // no answer: closed unread
        }
        chat();
        for (auto& c : idle) {
            bool ended = false;
            std::string raw = c->read_until_eof(3.0, &ended);
            Reply r = parse_reply(raw, ended);
            CHECK(r.status == 408);
        }
        CHECK(get(admin, "/healthz").status == 200);  // the slots are free again
        CHECK(srv->wait_output("admin: refused 127.0.0.1:"));
    }

    SUBCASE("the chat port never speaks HTTP")
    {
        REQUIRE(A.send_all("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
        CHECK(B.read_line() == A.addr() + ": GET /metrics HTTP/1.1");
        CHECK(B.read_line() == A.addr() + ": Host: x");
        CHECK(B.read_line() == A.addr() + ": ");
        CHECK(A.read_line() == A.addr() + ": GET /metrics HTTP/1.1");
        CHECK(A.read_line() == A.addr() + ": Host: x");
        CHECK(A.read_line() == A.addr() + ": ");
    }

    chat();
    stop_evchat(*srv);
}

TEST_CASE("admin: off by default; [admin] listen follows a reload, and a bad one changes nothing")
{
    ServerOptions opts;
    opts.config = "[log]\nlevel = \"info\"\n";
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    CHECK(srv->output().find("admin") == std::string::npos);

    // Turned on by a reload, on a port of its own.
    { std::ofstream(srv->config->path()) << "[admin]\nlisten = \"127.0.0.1:0\"\n"; }
    srv->signal(SIGHUP);
    uint16_t first = admin_port(*srv, 1);
    CHECK(get(first, "/healthz").status == 200);

    // Moved onto the chat port: that cannot be bound, so the reload fails and nothing moves.
    { std::ofstream(srv->config->path()) << "[admin]\nlisten = \"127.0.0.1:" << srv->port() << "\"\n"; }
    srv->signal(SIGHUP);
    REQUIRE(srv->wait_output("reload failed"));
    CHECK(srv->output().find("admin: listen on 127.0.0.1:" + std::to_string(srv->port())) != std::string::npos);
    CHECK(get(first, "/healthz").status == 200);
    Room room("127.0.0.1", srv->port());
    room.join();  // the chat port is still the chat's

    // Off again.
    { std::ofstream(srv->config->path()) << "[admin]\nlisten = \"\"\n"; }
    srv->signal(SIGHUP);
    REQUIRE(srv->wait_output("admin listener on 127.0.0.1:" + std::to_string(first) + " closed"));
    CHECK_FALSE(Conn::connect("127.0.0.1", first, 0, 2.0));
    stop_evchat(*srv);
}
