// The chat protocol, byte for byte as the Go program of the book: greetings, arrivals,
// broadcasts, leaves, line framing, ordering, address formats. Where the Go reference
// defines the behaviour, the same scenario also runs against $GOCHAT_BIN.
#include "harness.h"

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

using namespace itest;

namespace {

void skip_go_message()
{
    MESSAGE("SKIPPED: GOCHAT_BIN is not set or not executable; no comparison with the Go reference");
}

// Bytes that exercise bufio.ScanLines; sent by A while B observes.
const std::string framing_input = std::string("hello\r\n"  // CRLF: the \r is dropped
                                              "a\rb\n"     // inner \r kept
                                              "\n"         // empty line
                                              "\r\n"       // empty line, CRLF
                                              "x\r\r\n"    // only one \r dropped
                                              "\rlead\n")  // leading \r kept
                                  + std::string("nul\0mid\n", 8) +
                                  "\xff\xfe\x80 invalid utf-8 \xc3\x28\n"
                                  "  spaces and\ttab  \n"
                                  "tail\r"; // final line without \n: delivered at EOF, \r dropped
const std::vector<std::string> framing_expected = {
    "A: hello", "A: a\rb", "A: ", "A: ", "A: x\r", "A: \rlead", std::string("A: nul\0mid", 10),
    "A: \xff\xfe\x80 invalid utf-8 \xc3\x28", "A:   spaces and\ttab  ", "A: tail", "A has left",
};

// A sends framing_input in two pieces then half-closes; B's lines until "A has left".
std::vector<std::string> framing_session(const std::string& host, uint16_t port, Conn* sentinel = nullptr)
{
    Room room(host, port, sentinel);
    Conn& A = room.join();
    Conn& B = room.join();
    Names names{{A.addr(), "A"}, {B.addr(), "B"}};
    REQUIRE(A.send_all(framing_input.substr(0, 12)));
    REQUIRE(A.send_all(framing_input.substr(12)));
    A.shutdown_write();
    std::vector<std::string> seen;
    for (int i = 0; i < 20; i++) {
        std::string line = room.read(B);
        seen.push_back(normalize(line, names));
        if (is_mark(line) || seen.back() == "A has left")
            break;
    }
    return seen;
}

// Parses "ADDR: s<sender> <n>" into (sender, n); false if the line is not of that form.
bool parse_numbered(const std::string& line, const std::vector<std::string>& senders, size_t& who, int& n)
{
    for (size_t i = 0; i < senders.size(); i++) {
        std::string prefix = senders[i] + ": s" + std::to_string(i) + " ";
        if (line.compare(0, prefix.size(), prefix) == 0) {
            who = i;
            n = atoi(line.c_str() + prefix.size());
            return true;
        }
    }
    return false;
}

} // namespace

TEST_CASE("seed transcript: evchat gives the book's session, literally")
{
    auto srv = start_evchat();
    INFO("server output: " << srv->output_tail());
    auto t = seed_session("127.0.0.1", {srv->port(), srv->port(), srv->port()});
    CHECK(t.at("A") == seed_expected.at("A"));
    CHECK(t.at("B") == seed_expected.at("B"));
    CHECK(t.at("C") == seed_expected.at("C"));
    stop_evchat(*srv);
}

TEST_CASE("seed transcript: the Go reference gives the same session as evchat")
{
    auto go = start_gochat();
    if (!go)
        return skip_go_message();
    auto go_t = seed_session("127.0.0.1", {go->port(), go->port(), go->port()}, go->sentinel.get());
    auto srv = start_evchat();
    auto ev_t = seed_session("127.0.0.1", {srv->port(), srv->port(), srv->port()});
    CHECK(go_t.at("A") == seed_expected.at("A"));
    CHECK(go_t.at("B") == seed_expected.at("B"));
    CHECK(go_t.at("C") == seed_expected.at("C"));
    CHECK(ev_t == go_t);
    stop_evchat(*srv);
}

TEST_CASE("a newcomer never receives its own arrival, and receives the next broadcast")
{
    auto srv = start_evchat();
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& A = room.join();
    Conn& B = room.join(); // B's first line was "You are B"; A got "B has arrived"
    REQUIRE(A.send_all("after B\n"));
    CHECK(A.read_line() == A.addr() + ": after B");
    CHECK(B.read_line() == A.addr() + ": after B"); // not "B has arrived"
    Conn& C = room.join(); // B now receives C's arrival, C does not
    REQUIRE(C.send_all("from C\n"));
    for (size_t i = 0; i < 3; i++)
        CHECK(room[i].read_line() == C.addr() + ": from C");
    stop_evchat(*srv);
}

TEST_CASE("a newcomer receives every broadcast made after its arrival, even mid-flood")
{
    auto srv = start_evchat();
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& A = room.join();
    std::string chunk[3];
    const int per_chunk = 10000; // several of the server's reads each, below the soft limit in all
    for (int i = 0; i < 3 * per_chunk; i++)
        chunk[i / per_chunk] += "line " + std::to_string(i) + "\n";
    REQUIRE(A.send_all(chunk[0]));
    auto B = Conn::connect("127.0.0.1", srv->port()); // arrives somewhere in the flood...
    REQUIRE(B);
    REQUIRE(A.send_all(chunk[1]));
    CHECK(B->read_line() == "You are " + B->addr()); // ...but before the last third
    REQUIRE(A.send_all(chunk[2] + "end\n"));

    // A sees its lines with "B has arrived" somewhere among them.
    std::vector<std::string> a_lines;
    for (int i = 0; i < 3 * per_chunk + 2; i++) {
        a_lines.push_back(A.read_line());
        REQUIRE_FALSE(is_mark(a_lines.back()));
    }
    size_t arrival = 0;
    int arrivals = 0;
    for (size_t i = 0; i < a_lines.size(); i++)
        if (a_lines[i] == B->addr() + " has arrived") {
            arrival = i;
            arrivals++;
        }
    REQUIRE(arrivals == 1);
    CHECK(arrival <= static_cast<size_t>(2 * per_chunk));
    // B sees exactly what A saw after the arrival.
    std::vector<std::string> b_lines;
    for (size_t i = arrival + 1; i < a_lines.size(); i++)
        b_lines.push_back(B->read_line());
    std::vector<std::string> expected(a_lines.begin() + static_cast<long>(arrival) + 1, a_lines.end());
    CHECK(b_lines == expected);
    // And A's own lines came back in order.
    std::vector<std::string> own, want;
    for (auto& l : a_lines)
        if (l != B->addr() + " has arrived")
            own.push_back(l);
    for (int i = 0; i < 3 * per_chunk; i++)
        want.push_back(A.addr() + ": line " + std::to_string(i));
    want.push_back(A.addr() + ": end");
    CHECK(own == want);
    stop_evchat(*srv);
}

TEST_CASE("the sender receives its own line")
{
    auto srv = start_evchat();
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& A = room.join();
    REQUIRE(A.send_all("talking to myself\n"));
    CHECK(A.read_line() == A.addr() + ": talking to myself");
    Conn& B = room.join();
    REQUIRE(B.send_all("me too\n"));
    CHECK(B.read_line() == B.addr() + ": me too");
    CHECK(A.read_line() == B.addr() + ": me too");
    stop_evchat(*srv);
}

TEST_CASE("a leaver never receives its own leave; the others do")
{
    auto srv = start_evchat();
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& A = room.join();
    Conn& B = room.join();
    Conn& C = room.join();
    B.shutdown_write(); // B's input ends; it can still read
    CHECK(A.read_line() == B.addr() + " has left");
    CHECK(C.read_line() == B.addr() + " has left");
    bool ended = false;
    std::string rest = B.read_until_eof(kTimeout, &ended);
    CHECK(ended);
    CHECK(escape(rest) == ""); // nothing after B's input ended, not even its own leave
    // The room goes on without B.
    REQUIRE(A.send_all("still here\n"));
    CHECK(A.read_line() == A.addr() + ": still here");
    CHECK(C.read_line() == A.addr() + ": still here");
    stop_evchat(*srv);
}

TEST_CASE("framing like bufio.ScanLines: CRLF, inner CR, empty lines, NUL, 0xff, final line")
{
    auto srv = start_evchat();
    INFO("server output: " << srv->output_tail());
    std::vector<std::string> seen = framing_session("127.0.0.1", srv->port());
    REQUIRE(seen.size() == framing_expected.size());
    for (size_t i = 0; i < seen.size(); i++) {
        CAPTURE(i);
        CHECK(escape(seen[i]) == escape(framing_expected[i]));
    }
    stop_evchat(*srv);
}

TEST_CASE("framing: the Go reference frames the same bytes the same way as evchat")
{
    auto go = start_gochat();
    if (!go)
        return skip_go_message();
    std::vector<std::string> go_seen = framing_session("127.0.0.1", go->port(), go->sentinel.get());
    auto srv = start_evchat();
    std::vector<std::string> ev_seen = framing_session("127.0.0.1", srv->port());
    std::vector<std::string> go_esc, ev_esc, want_esc;
    for (auto& l : go_seen)
        go_esc.push_back(escape(l));
    for (auto& l : ev_seen)
        ev_esc.push_back(escape(l));
    for (auto& l : framing_expected)
        want_esc.push_back(escape(l));
    CHECK(go_esc == want_esc);
    CHECK(ev_esc == go_esc);
    stop_evchat(*srv);
}

TEST_CASE("a final line without newline is delivered when the client ends its input")
{
    auto srv = start_evchat();
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& A = room.join();
    Conn& B = room.join();
    std::string a = A.addr();
    REQUIRE(A.send_all("whole\nunterminated"));
    CHECK(B.read_line() == a + ": whole");

    SUBCASE("half-close (shutdown SHUT_WR)")
    {
        A.shutdown_write();
        CHECK(B.read_line() == a + ": unterminated");
        CHECK(B.read_line() == a + " has left");
        // The half-closed sender still gets its own lines, then EOF.
        CHECK(A.read_line() == a + ": whole");
        CHECK(A.read_line() == a + ": unterminated");
        CHECK(A.read_line() == kEof);
    }
    SUBCASE("full close")
    {
        CHECK(A.read_line() == a + ": whole"); // nothing unread: close() sends FIN, not RST
        A.close();
        CHECK(B.read_line() == a + ": unterminated");
        CHECK(B.read_line() == a + " has left");
    }
    SUBCASE("reset (SO_LINGER 0)")
    {
        CHECK(A.read_line() == a + ": whole");
        A.close_rst();
        CHECK(B.read_line() == a + ": unterminated");
        CHECK(B.read_line() == a + " has left");
    }
    // The server still serves.
    REQUIRE(B.send_all("next\n"));
    CHECK(B.read_line() == B.addr() + ": next");
    stop_evchat(*srv);
}

TEST_CASE("half-close: output queued for the client is delivered before the close")
{
    ServerOptions opts; // limits high enough that A is never a slow consumer here
    opts.config = "[client]\noutput_soft_limit = \"32MiB\"\noutput_hard_limit = \"64MiB\"\n";
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& A = room.join(4096); // small receive buffer, does not read for a while
    Conn& B = room.join();
    std::string b = B.addr(), a = A.addr();
    // B says ~6 MB while A does not read: more than the kernel's socket buffers hold,
    // so most of it waits in the server when A half-closes.
    const int n = 60000;
    std::string pad(80, '.');
    std::string text;
    for (int i = 0; i < n; i++)
        text += std::to_string(i) + pad + "\n";
    REQUIRE(B.send_all(text));
    for (int i = 0; i < n; i++) {
        std::string line = B.read_line();
        REQUIRE(line == b + ": " + std::to_string(i) + pad);
    }
    // A says two lines, the last unterminated, and half-closes with all that queued.
    REQUIRE(A.send_all("a\nb"));
    A.shutdown_write();
    CHECK(B.read_line() == a + ": a");
    CHECK(B.read_line() == a + ": b");
    CHECK(B.read_line() == a + " has left");
    // Now A reads: everything queued for it, in order, then EOF.
    for (int i = 0; i < n; i++) {
        std::string line = A.read_line();
        REQUIRE(line == b + ": " + std::to_string(i) + pad);
    }
    CHECK(A.read_line() == a + ": a");
    CHECK(A.read_line() == a + ": b");
    CHECK(A.read_line() == kEof);
    stop_evchat(*srv);
}

TEST_CASE("global order: 5 senders x 200 lines, every client sees one order")
{
    auto srv = start_evchat();
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    const size_t n_senders = 5, n_observers = 3;
    const int per_sender = 200;
    std::vector<std::string> senders;
    for (size_t i = 0; i < n_senders + n_observers; i++) {
        Conn& c = room.join();
        if (i < n_senders)
            senders.push_back(c.addr());
    }
    // Interleave: each round every sender writes 10 lines, without anyone reading.
    for (int round = 0; round < per_sender / 10; round++)
        for (size_t s = 0; s < n_senders; s++) {
            std::string chunk;
            for (int k = 0; k < 10; k++)
                chunk += "s" + std::to_string(s) + " " + std::to_string(round * 10 + k) + "\n";
            REQUIRE(room[s].send_all(chunk));
        }
    const size_t total = n_senders * per_sender;
    std::vector<std::vector<std::string>> seen(room.size());
    for (size_t c = 0; c < room.size(); c++) {
        CAPTURE(c);
        std::vector<int> next(n_senders, 0);
        for (size_t i = 0; i < total; i++) {
            std::string line = room[c].read_line();
            size_t who = 0;
            int num = -1;
            CAPTURE(line);
            REQUIRE(parse_numbered(line, senders, who, num));
            REQUIRE(num == next[who]); // each sender's lines in the order sent
            next[who]++;
            seen[c].push_back(line);
        }
    }
    for (size_t c = 1; c < room.size(); c++) {
        CAPTURE(c);
        CHECK(seen[c] == seen[0]); // one global order
    }
    stop_evchat(*srv);
}

TEST_CASE("IPv6 peers are named [::1]:PORT")
{
    if (!have_ipv6_loopback()) {
        MESSAGE("SKIPPED: no IPv6 loopback (::1) on this host");
        return;
    }
    ServerOptions opts;
    opts.listen = {"[::1]:0"};
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    CHECK(srv->endpoints.at(0).host == "[::1]");
    Room room("::1", srv->port());
    Conn& A = room.join(); // checks "You are [::1]:PORT" and "[::1]:PORT has arrived"
    Conn& B = room.join();
    CHECK(A.addr().rfind("[::1]:", 0) == 0);
    REQUIRE(A.send_all("over six\n"));
    CHECK(A.read_line() == A.addr() + ": over six");
    CHECK(B.read_line() == A.addr() + ": over six");
    stop_evchat(*srv);
}

TEST_CASE("an IPv4-mapped peer on a [::] listener is named as plain IPv4")
{
    if (!have_ipv6_loopback()) {
        MESSAGE("SKIPPED: no IPv6 on this host");
        return;
    }
    ServerOptions opts;
    opts.listen = {"[::]:0"};
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    auto A = Conn::connect("127.0.0.1", srv->port());
    REQUIRE_MESSAGE(A, "IPv4 connect to a [::] listener failed (not dual-stack?)");
    CHECK(A->addr().rfind("127.0.0.1:", 0) == 0);
    CHECK(A->read_line() == "You are " + A->addr()); // not [::ffff:127.0.0.1]:PORT
    auto B = Conn::connect("::1", srv->port());
    REQUIRE(B);
    CHECK(B->read_line() == "You are " + B->addr());
    CHECK(A->read_line() == B->addr() + " has arrived");
    REQUIRE(A->send_all("mapped\n"));
    CHECK(B->read_line() == A->addr() + ": mapped");
    stop_evchat(*srv);
}
