// Production limits over real sockets: the idle timeout, admission (max_clients,
// max_clients_per_ip), flood control (line and byte rates, disconnect_after), and
// reloading the config file on SIGHUP (limits, listen addresses, bad files).
#include "harness.h"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

using namespace itest;

namespace {

// Replaces the file at path in one step (write beside it, rename over it).
void rewrite(const std::string& path, const std::string& text)
{
    std::string tmp = path + ".new";
    FILE* f = fopen(tmp.c_str(), "w");
    REQUIRE_MESSAGE(f, "fopen " << tmp << ": " << strerror(errno));
    REQUIRE(fwrite(text.data(), 1, text.size(), f) == text.size());
    REQUIRE(fclose(f) == 0);
    REQUIRE(rename(tmp.c_str(), path.c_str()) == 0);
}

// The ports of the "listening on HOST:PORT" lines for HOST, in log order.
std::vector<uint16_t> listening_ports(const std::string& out, const std::string& host)
{
    std::vector<uint16_t> ports;
    const std::string key = " info listening on " + host + ":";
    for (size_t pos = out.find(key); pos != std::string::npos; pos = out.find(key, pos + 1))
        ports.push_back(static_cast<uint16_t>(atoi(out.c_str() + pos + key.size())));
    return ports;
}

// True if the output has "reload failed, keeping the running config: PATH:LINE:COL: ".
bool has_reload_failure_at(const std::string& out, const std::string& path)
{
    const std::string key = "reload failed, keeping the running config: " + path + ":";
    for (size_t pos = out.find(key); pos != std::string::npos; pos = out.find(key, pos + 1)) {
        const char* p = out.c_str() + pos + key.size();
        int line = 0, col = 0, used = 0;
        if (sscanf(p, "%d:%d: %n", &line, &col, &used) == 2 && used > 0 && line >= 1 && col >= 1)
            return true;
    }
    return false;
}

bool can_bind(const char* host)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    inet_pton(AF_INET, host, &sa.sin_addr);
    bool ok = fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

// A client whose socket is bound to a chosen loopback source address before it connects
// to 127.0.0.1 (the harness's Conn lets the kernel choose, which is always 127.0.0.1).
class SourceConn {
public:
    static std::unique_ptr<SourceConn> connect(const char* source, uint16_t port)
    {
        std::unique_ptr<SourceConn> c(new SourceConn);
        c->fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(c->fd_ >= 0);
        timeval tv{static_cast<time_t>(kTimeout), 0}; // bounds connect() and send()
        setsockopt(c->fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        inet_pton(AF_INET, source, &sa.sin_addr);
        REQUIRE_MESSAGE(bind(c->fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0,
                        "bind " << source << ": " << strerror(errno));
        socklen_t len = sizeof sa;
        getsockname(c->fd_, reinterpret_cast<sockaddr*>(&sa), &len);
        c->addr_ = std::string(source) + ":" + std::to_string(ntohs(sa.sin_port));
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(port);
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE_MESSAGE(::connect(c->fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0,
                        "connect from " << source << ": " << strerror(errno));
        return c;
    }
    ~SourceConn() { close(fd_); }
    const std::string& addr() const { return addr_; }

    bool send_all(const std::string& data)
    {
        return send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
    }

    // As Conn::read_line: the next line, or kEof / kTimedOut / "<<read error: ...>>".
    std::string read_line(double timeout = kTimeout)
    {
        double deadline = now() + timeout;
        for (;;) {
            size_t nl = buf_.find('\n');
            if (nl != std::string::npos) {
                std::string line = buf_.substr(0, nl);
                buf_.erase(0, nl + 1);
                return line;
            }
            if (eof_)
                return kEof;
            pollfd p{fd_, POLLIN, 0};
            int ms = static_cast<int>((deadline - now()) * 1000);
            if (ms <= 0 || poll(&p, 1, ms) <= 0)
                return kTimedOut;
            char tmp[4096];
            ssize_t n = recv(fd_, tmp, sizeof tmp, MSG_DONTWAIT);
            if (n == 0)
                eof_ = true;
            else if (n > 0)
                buf_.append(tmp, static_cast<size_t>(n));
            else if (errno != EAGAIN && errno != EINTR)
                return "<<read error: " + std::string(strerror(errno)) + ">>";
        }
    }

private:
    SourceConn() = default;
    int fd_ = -1;
    std::string addr_, buf_;
    bool eof_ = false;
};

// What a refused newcomer receives: the error line, then how the connection ended.
std::string refusal(Conn& c)
{
    bool ended = false;
    std::string got = c.read_until_eof(kTimeout, &ended);
    return escape(got) + (c.error() ? "<<reset>>" : ended ? "<<EOF>>" : "<<no EOF>>");
}

// Reads the lines of several connections into their transcripts until done() or the
// deadline; returns done().
struct Reader {
    explicit Reader(Conn* conn) : c(conn) {}
    Conn* c;
    std::vector<std::string> lines;
    std::vector<double> times; // when each line was read
};

bool read_until(const std::vector<Reader*>& readers, const std::function<bool()>& done, double timeout)
{
    double deadline = now() + timeout;
    while (!done()) {
        if (now() >= deadline)
            return false;
        std::vector<pollfd> fds;
        for (Reader* r : readers)
            fds.push_back({r->c->ended() ? -1 : r->c->fd(), POLLIN, 0});
        poll(fds.data(), fds.size(), 50);
        for (Reader* r : readers) {
            r->c->read_available();
            std::string line;
            while (r->c->pop_line(line)) {
                r->lines.push_back(line);
                r->times.push_back(now());
            }
        }
    }
    return true;
}

size_t index_of(const std::vector<std::string>& lines, const std::string& line)
{
    for (size_t i = 0; i < lines.size(); i++)
        if (lines[i] == line)
            return i;
    return lines.size();
}

// n numbered lines "f 000 ..." padded to `width` bytes before the "\n".
std::string numbered(const std::string& tag, int i, size_t width = 0)
{
    char num[32];
    snprintf(num, sizeof num, "%s %03d ", tag.c_str(), i);
    std::string s = num;
    if (s.size() < width)
        s.resize(width, '.');
    return s;
}

std::string numbered_text(const std::string& tag, int n, size_t width = 0)
{
    std::string s;
    for (int i = 0; i < n; i++)
        s += numbered(tag, i, width) + "\n";
    return s;
}

// The lines of `lines` that sender said, without the "SENDER: " prefix.
std::vector<std::string> said_by(const std::vector<std::string>& lines, const std::string& sender)
{
    std::vector<std::string> out;
    for (auto& l : lines)
        if (l.compare(0, sender.size() + 2, sender + ": ") == 0)
            out.push_back(l.substr(sender.size() + 2));
    return out;
}

std::vector<std::string> numbered_lines(const std::string& tag, int n, size_t width = 0)
{
    std::vector<std::string> out;
    for (int i = 0; i < n; i++)
        out.push_back(numbered(tag, i, width));
    return out;
}

} // namespace

// ---- idle timeout ----

TEST_CASE("idle timeout: a silent client is told and leaves; a client that keeps talking stays")
{
    ServerOptions opts;
    opts.config = "[client]\nidle_timeout = 0.6\n";
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& A = room.join(); // never sends
    double a_joined = now();
    Conn& B = room.join(); // says something every 0.15 s for three idle timeouts
    std::string a = A.addr(), b = B.addr();

    Reader ra{&A}, rb{&B};
    int said = 0;
    double next = now(), b_last = 0, until = now() + 1.8;
    read_until({&ra, &rb}, [&] {
        if (now() >= next && now() < until) {
            REQUIRE(B.send_all("ping " + std::to_string(said++) + "\n"));
            b_last = now();
            next += 0.15;
        }
        return now() >= until;
    }, 2 * kTimeout);

    // A heard B's pings until its timeout, then the error, then the end.
    REQUIRE_FALSE(ra.lines.empty());
    CHECK(ra.lines.back() == "error: idle timeout");
    for (size_t i = 0; i + 1 < ra.lines.size(); i++)
        CHECK(ra.lines[i] == b + ": ping " + std::to_string(i));
    CHECK(A.read_line() == kEof);
    // B heard all its pings and A's leave, no sooner than the timeout after A's last input
    // (its arrival).
    size_t left = index_of(rb.lines, a + " has left");
    REQUIRE(left < rb.lines.size());
    CAPTURE(rb.times[left] - a_joined);
    CHECK(rb.times[left] - a_joined >= 0.5);
    rb.lines.erase(rb.lines.begin() + static_cast<long>(left));
    CHECK(said >= 10);
    CHECK(said_by(rb.lines, b).size() == rb.lines.size());
    CHECK(rb.lines.size() <= static_cast<size_t>(said));
    CHECK_FALSE(B.ended()); // talking for 3 idle timeouts kept it in the room

    // Once B is silent it goes too, no sooner than the timeout after its last line.
    std::string line;
    for (int k = 0; k < said && (line = B.read_line()) != "error: idle timeout" && !is_mark(line); k++)
        CHECK(line.compare(0, b.size() + 7, b + ": ping ") == 0);
    CHECK(line == "error: idle timeout");
    CAPTURE(now() - b_last);
    CHECK(now() - b_last >= 0.5);
    CHECK(B.read_line() == kEof);
    CHECK(srv->wait_output(" disconnected: idle for 0.6 s", 2));
    stop_evchat(*srv);
}

// ---- admission ----

TEST_CASE("max_clients: a newcomer over the limit gets \"error: server full\" and never enters the room")
{
    ServerOptions opts;
    opts.config = "[server]\nmax_clients = 3\n";
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& A = room.join();
    Conn& B = room.join();
    Conn& C = room.join();
    std::string a = A.addr(), c = C.addr();

    double t0 = now();
    std::vector<std::string> refused;
    for (int i = 0; i < 6; i++) {
        auto d = Conn::connect("127.0.0.1", srv->port());
        REQUIRE(d);
        refused.push_back(d->addr());
        CHECK(refusal(*d) == "error: server full\\n<<EOF>>");
    }
    double refusing = now() - t0;

    // No arrival and no leave for them: A's line is the next line everyone reads.
    REQUIRE(A.send_all("after the refusals\n"));
    for (Conn* m : {&A, &B, &C})
        CHECK(m->read_line() == a + ": after the refusals");

    // One leaves: the next newcomer is admitted (Room::join checks greeting and arrivals).
    C.close();
    CHECK(A.read_line() == c + " has left");
    CHECK(B.read_line() == c + " has left");
    Conn& D = room.join();
    // Full again.
    auto e = Conn::connect("127.0.0.1", srv->port());
    REQUIRE(e);
    CHECK(refusal(*e) == "error: server full\\n<<EOF>>");
    REQUIRE(D.send_all("full again\n"));
    for (Conn* m : {&A, &B, &D})
        CHECK(m->read_line() == D.addr() + ": full again");

    // Refusals are logged, at most once a second.
    std::string out = srv->output();
    CHECK(count_of(out, "refused " + refused[0] + ": server full (") == 1);
    CAPTURE(refusing);
    CHECK(count_of(out, "refused ") >= 1);
    CHECK(count_of(out, "refused ") <= 2 + static_cast<size_t>(refusing));
    stop_evchat(*srv);
}

TEST_CASE("admission: a refused newcomer that talks first gets its error line and an orderly end, not a reset")
{
    ServerOptions opts;
    opts.config = "[server]\nmax_clients = 1\n";
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& A = room.join();
    // While evchat is stopped, the kernel completes the newcomers' connections and queues
    // what they say: when evchat refuses them, their lines are waiting unread. Closing a
    // socket with unread input sends a reset instead of an orderly end, and a peer's
    // stack may discard what it has not read yet on a reset: the error line. As for a
    // leaver, the write side must be shut and the input drained before the close.
    srv->signal(SIGSTOP);
    std::vector<std::unique_ptr<Conn>> ds;
    for (int i = 0; i < 3; i++) {
        auto d = Conn::connect("127.0.0.1", srv->port());
        REQUIRE(d);
        REQUIRE(d->send_all("hello, anyone?\n"));
        ds.push_back(std::move(d));
    }
    srv->signal(SIGCONT);
    for (auto& d : ds) {
        // Read only once evchat has ended the connection (FIN or reset), as a client
        // busy elsewhere would.
        pollfd p{d->fd(), POLLRDHUP, 0};
        CHECK(poll(&p, 1, static_cast<int>(kTimeout * 1000)) == 1);
        CHECK(refusal(*d) == "error: server full\\n<<EOF>>");
    }
    REQUIRE(A.send_all("alone\n"));
    CHECK(A.read_line() == A.addr() + ": alone");
    stop_evchat(*srv);
}

TEST_CASE("max_clients_per_ip: over the limit from one address, another address is still admitted")
{
    if (!can_bind("127.0.0.2")) {
        MESSAGE("SKIPPED: cannot bind 127.0.0.2 here; no second loopback source address");
        return;
    }
    ServerOptions opts;
    opts.config = "[server]\nmax_clients_per_ip = 2\n";
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& A = room.join();
    Conn& B = room.join();
    std::string a = A.addr(), b = B.addr();
    const std::string too_many = "error: too many connections from your address";

    auto c = Conn::connect("127.0.0.1", srv->port());
    REQUIRE(c);
    CHECK(refusal(*c) == escape(too_many + "\n") + "<<EOF>>");

    // 127.0.0.2 is another address: two of it are admitted, the third is not.
    auto D = SourceConn::connect("127.0.0.2", srv->port());
    CHECK(D->read_line() == "You are " + D->addr());
    CHECK(A.read_line() == D->addr() + " has arrived");
    CHECK(B.read_line() == D->addr() + " has arrived");
    auto E = SourceConn::connect("127.0.0.2", srv->port());
    CHECK(E->read_line() == "You are " + E->addr());
    CHECK(A.read_line() == E->addr() + " has arrived");
    CHECK(B.read_line() == E->addr() + " has arrived");
    CHECK(D->read_line() == E->addr() + " has arrived");
    auto F = SourceConn::connect("127.0.0.2", srv->port());
    CHECK(F->read_line() == too_many);
    CHECK(F->read_line() == kEof);

    // Nobody heard of the refused ones; the 127.0.0.2 clients chat like any other.
    REQUIRE(E->send_all("from the second address\n"));
    CHECK(A.read_line() == E->addr() + ": from the second address");
    CHECK(B.read_line() == E->addr() + ": from the second address");
    CHECK(D->read_line() == E->addr() + ": from the second address");
    CHECK(E->read_line() == E->addr() + ": from the second address");

    // When one from 127.0.0.1 leaves, 127.0.0.1 may connect again.
    B.close();
    CHECK(A.read_line() == b + " has left");
    CHECK(D->read_line() == b + " has left");
    CHECK(E->read_line() == b + " has left");
    Conn& G = room.join();
    CHECK(D->read_line() == G.addr() + " has arrived");
    CHECK(E->read_line() == G.addr() + " has arrived");
    auto h = Conn::connect("127.0.0.1", srv->port());
    REQUIRE(h);
    CHECK(refusal(*h) == escape(too_many + "\n") + "<<EOF>>");
    CHECK(srv->output().find(": too many connections from your address (") != std::string::npos);
    stop_evchat(*srv);
}

// ---- flood control ----

TEST_CASE("flood, lines_per_second: a flooder is throttled, loses nothing, and does not hold up others")
{
    ServerOptions opts;
    opts.config = "[flood]\nlines_per_second = 100\nlines_burst = 10\n";
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& O = room.join();
    Conn& F = room.join();
    Conn& G = room.join();
    std::string f = F.addr(), g = G.addr();
    const int n = 110; // 100 over the burst: at 100 lines/s, 1 s at least

    double t0 = now();
    REQUIRE(F.send_all(numbered_text("f", n) + "tail"));
    F.shutdown_write(); // even then, the held-back lines all come
    Reader ro{&O}, rf{&F};
    bool g_said = false;
    bool done = read_until({&ro, &rf}, [&] {
        if (!g_said && said_by(ro.lines, f).size() >= 20) {
            REQUIRE(G.send_all("not held up\n"));
            g_said = true;
        }
        return !ro.lines.empty() && ro.lines.back() == f + " has left" && F.ended();
    }, 3 * kTimeout);
    CHECK(done);

    std::vector<std::string> want = numbered_lines("f", n);
    want.push_back("tail");
    CHECK(said_by(ro.lines, f) == want); // every line, in order
    CHECK(ro.lines.size() == want.size() + 2); // and G's line, and F's leave
    CHECK(said_by(rf.lines, f) == want);
    CHECK(rf.lines.size() == want.size() + 1); // and G's line
    // The rate held: the last line came no sooner than (n - burst) / rate.
    size_t last = index_of(ro.lines, f + ": " + numbered("f", n - 1));
    REQUIRE(last < ro.lines.size());
    CAPTURE(ro.times[last] - t0);
    CHECK(ro.times[last] - t0 >= 0.8);
    // G was not throttled with F: its line came while F's were still held back.
    size_t g_at = index_of(ro.lines, g + ": not held up");
    CHECK(g_at < last);
    CHECK(srv->output().find(f + " throttled: over the flood limit") != std::string::npos);
    stop_evchat(*srv);
}

TEST_CASE("flood, bytes_per_second: the byte rate holds, every line arrives in order")
{
    ServerOptions opts;
    opts.config = "[flood]\nbytes_per_second = 20000\nbytes_burst = 5000\n";
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& O = room.join();
    Conn& F = room.join();
    std::string f = F.addr();
    const int n = 250; // 250 x 100 bytes: 20000 over the burst, 1 s at 20000 B/s

    double t0 = now();
    REQUIRE(F.send_all(numbered_text("f", n, 99)));
    Reader ro{&O};
    bool done = read_until({&ro}, [&] { return said_by(ro.lines, f).size() >= static_cast<size_t>(n); },
                           3 * kTimeout);
    CHECK(done);
    CHECK(said_by(ro.lines, f) == numbered_lines("f", n, 99));
    CHECK(ro.lines.size() == static_cast<size_t>(n));
    CAPTURE(ro.times.back() - t0);
    CHECK(ro.times.back() - t0 >= 0.8);
    CHECK(srv->output().find(f + " throttled: over the flood limit") != std::string::npos);
    // Still in the room.
    REQUIRE(F.send_all("done\n"));
    CHECK(O.read_line() == f + ": done");
    stop_evchat(*srv);
}

TEST_CASE("flood, disconnect_after: a client that keeps flooding is told and leaves")
{
    ServerOptions opts;
    opts.config = "[flood]\nlines_per_second = 20\nlines_burst = 5\ndisconnect_after = 0.5\n";
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& O = room.join();
    Conn& F = room.join();
    std::string f = F.addr();
    const int n = 200; // 10 s of lines at the rate

    double t0 = now();
    REQUIRE(F.send_all(numbered_text("f", n)));
    Reader ro{&O}, rf{&F};
    bool done = read_until({&ro, &rf}, [&] {
        return !ro.lines.empty() && ro.lines.back() == f + " has left" && F.ended();
    }, 3 * kTimeout);
    CHECK(done);
    REQUIRE_FALSE(ro.lines.empty());
    CAPTURE(ro.times.back() - t0);
    CHECK(ro.times.back() - t0 >= 0.4); // throttled for disconnect_after first

    // The observer: a prefix of F's lines, in order, then the leave.
    std::vector<std::string> heard = said_by(ro.lines, f);
    CHECK(heard.size() + 1 == ro.lines.size());
    CHECK(heard.size() >= 5);
    CHECK(heard.size() < static_cast<size_t>(n));
    CHECK(heard == numbered_lines("f", static_cast<int>(heard.size())));
    // The flooder: the same lines, the error, the end.
    REQUIRE_FALSE(rf.lines.empty());
    CHECK(rf.lines.back() == "error: flood limit exceeded");
    rf.lines.pop_back();
    CHECK(said_by(rf.lines, f) == heard);
    CHECK(srv->output().find(f + " disconnected: flooding for ") != std::string::npos);
    room.join(); // the room goes on
    stop_evchat(*srv);
}

TEST_CASE("flood, disconnect_after: only throttling that lasts counts; a later short flood is not punished")
{
    ServerOptions opts;
    opts.config = "[flood]\nlines_per_second = 20\nlines_burst = 5\ndisconnect_after = 0.5\n";
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& O = room.join();
    Conn& F = room.join();
    std::string f = F.addr();
    // Each flood is 5 lines over the burst: throttled for 0.25 s, half of disconnect_after.
    for (int round = 0; round < 2; round++) {
        CAPTURE(round);
        std::string tag = "r" + std::to_string(round);
        REQUIRE(F.send_all(numbered_text(tag, 10)));
        Reader ro{&O};
        bool done = read_until({&ro}, [&] {
            return said_by(ro.lines, f).size() >= 10 || (!ro.lines.empty() && ro.lines.back() == f + " has left");
        }, kTimeout);
        CHECK(done);
        CHECK(said_by(ro.lines, f).size() == 10);
        CHECK(said_by(ro.lines, f) == numbered_lines(tag, 10));
        // A quiet second: the buckets refill (nothing is said meanwhile).
        Reader quiet{&O};
        read_until({&quiet}, [] { return false; }, 1.0);
        CHECK(quiet.lines.empty());
    }
    CHECK(srv->output().find(f + " disconnected: flooding") == std::string::npos);
    stop_evchat(*srv);
}

// ---- reload ----

TEST_CASE("SIGHUP: a new max_line_bytes applies to existing clients; a bad file changes nothing")
{
    ServerOptions opts;
    opts.config = "[client]\nmax_line_bytes = 64\n";
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    const std::string path = srv->config->path();
    const std::string reloaded = "reloaded " + path;
    Room room("127.0.0.1", srv->port());
    Conn& A = room.join();
    Conn& B = room.join();
    std::string a = A.addr();
    const std::string longer(500, 'L'); // over 64 bytes, under 1024

    rewrite(path, "[client]\nmax_line_bytes = 1024\n");
    srv->signal(SIGHUP);
    REQUIRE(srv->wait_output(reloaded, 1));
    REQUIRE(A.send_all(longer + "\n"));
    CHECK(A.read_line() == a + ": " + longer);
    CHECK(B.read_line() == a + ": " + longer);

    SUBCASE("a file that does not parse") { rewrite(path, "[client]\nmax_line_bytes = 64\nbogus = \n"); }
    SUBCASE("a file that does not validate") { rewrite(path, "[client]\nmax_line_bytes = 0\n"); }
    SUBCASE("an unknown key") { rewrite(path, "[client]\nmax_line_bytes = 64\nbogus_key = 1\n"); }
    srv->signal(SIGHUP);
    REQUIRE(srv->wait_output("reload failed, keeping the running config: ", 1));
    CHECK(has_reload_failure_at(srv->output(), path));
    CHECK(count_of(srv->output(), reloaded) == 1);
    // The running config holds: 1024 bytes, not 64.
    REQUIRE(A.send_all(longer + "\n"));
    CHECK(A.read_line() == a + ": " + longer);
    CHECK(B.read_line() == a + ": " + longer);

    // A good file again: 64 bytes, and max_clients 2 for newcomers.
    rewrite(path, "[server]\nmax_clients = 2\n[client]\nmax_line_bytes = 64\n");
    srv->signal(SIGHUP);
    REQUIRE(srv->wait_output(reloaded, 2));
    auto c = Conn::connect("127.0.0.1", srv->port());
    REQUIRE(c);
    CHECK(refusal(*c) == "error: server full\\n<<EOF>>");
    REQUIRE(A.send_all(longer + "\n"));
    CHECK(A.read_line() == "error: line too long (max 64 bytes)");
    CHECK(A.read_line() == kEof);
    CHECK(B.read_line() == a + " has left");
    stop_evchat(*srv);
}

TEST_CASE("SIGHUP: a shorter idle_timeout applies at once to a client already idle that long")
{
    ServerOptions opts;
    opts.config = "[client]\nidle_timeout = 300\n";
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& A = room.join(); // silent from here on
    Conn& B = room.join(); // talks every 0.2 s throughout
    std::string a = A.addr(), b = B.addr();
    Reader ra{&A}, rb{&B};
    int said = 0;
    double next = now();
    auto talk = [&] {
        if (now() >= next) {
            REQUIRE(B.send_all("ping " + std::to_string(said++) + "\n"));
            next += 0.2;
        }
    };
    // A is silent for 2.5 s: nothing happens under a 300 s timeout.
    double until = now() + 2.5;
    read_until({&ra, &rb}, [&] { talk(); return now() >= until; }, kTimeout);
    CHECK(said_by(ra.lines, b).size() == ra.lines.size());
    CHECK_FALSE(A.ended());

    // Now 2.0 s: A has been idle longer already, so it goes at once, not 2 s from now.
    rewrite(srv->config->path(), "[client]\nidle_timeout = 2.0\n");
    double t0 = now(), a_gone = 0;
    srv->signal(SIGHUP);
    read_until({&ra, &rb}, [&] {
        talk();
        if (!a_gone && index_of(rb.lines, a + " has left") < rb.lines.size())
            a_gone = now();
        return A.ended() && a_gone > 0;
    }, kTimeout);
    CHECK(srv->wait_output("reloaded " + srv->config->path()));
    REQUIRE(a_gone > 0);
    CAPTURE(a_gone - t0);
    CHECK(a_gone - t0 < 1.5); // at once, not after the new 2 s
    REQUIRE_FALSE(ra.lines.empty());
    CHECK(ra.lines.back() == "error: idle timeout");
    // B, talking more often than every 2 s, stays.
    until = now() + 2.5;
    read_until({&rb}, [&] { talk(); return now() >= until; }, kTimeout);
    CHECK_FALSE(B.ended());
    CHECK(index_of(rb.lines, "error: idle timeout") == rb.lines.size());
    CHECK(said_by(rb.lines, b).size() + 1 == rb.lines.size()); // its pings and A's leave
    stop_evchat(*srv);
}

TEST_CASE("SIGHUP: a changed listen binds the new address, closes the old one, keeps the clients")
{
    ServerOptions opts;
    opts.config = "[server]\nlisten = [\"127.0.0.1:0\"]\n";
    opts.listen = {}; // no --listen: the file's listen is the one in force
    auto srv = start_evchat(opts);
    REQUIRE(srv->wait_listening(1));
    INFO("server output: " << srv->output_tail());
    const std::string path = srv->config->path();
    const std::string reloaded = "reloaded " + path;
    uint16_t old_port = srv->port();
    Room old_room("127.0.0.1", old_port);
    Conn& A = old_room.join();
    std::string a = A.addr();

    // Add a second address ("localhost" is 127.0.0.1, but another listen entry).
    rewrite(path, "[server]\nlisten = [\"127.0.0.1:0\", \"localhost:0\"]\n");
    srv->signal(SIGHUP);
    REQUIRE(srv->wait_output(reloaded, 1));
    std::vector<uint16_t> ports = listening_ports(srv->output(), "127.0.0.1");
    REQUIRE(ports.size() == 2);
    CHECK(ports[0] == old_port);
    uint16_t new_port = ports[1];
    CHECK(new_port != old_port);
    auto B = Conn::connect("127.0.0.1", new_port);
    REQUIRE(B);
    CHECK(B->read_line() == "You are " + B->addr());
    CHECK(A.read_line() == B->addr() + " has arrived");
    Conn& A2 = old_room.join(); // the old address still accepts
    CHECK(B->read_line() == A2.addr() + " has arrived");

    // Drop the old one: it stops accepting; who came through it stays.
    rewrite(path, "[server]\nlisten = [\"localhost:0\"]\n");
    srv->signal(SIGHUP);
    REQUIRE(srv->wait_output(reloaded, 2));
    CHECK(srv->output().find("no longer listening on 127.0.0.1:" + std::to_string(old_port)) != std::string::npos);
    CHECK_FALSE(Conn::connect("127.0.0.1", old_port, 0, 2.0));
    CHECK(listening_ports(srv->output(), "127.0.0.1").size() == 2); // the kept listener is not re-logged
    REQUIRE(A.send_all("still here\n"));
    CHECK(A.read_line() == a + ": still here");
    CHECK(B->read_line() == a + ": still here");

    // An address that cannot be bound: the reload fails and nothing changes, not even
    // the new addresses listed before it.
    rewrite(path, "[server]\nlisten = [\"localhost:0\", \"127.0.0.1:0\", \"192.0.2.1:0\"]\n");
    srv->signal(SIGHUP);
    REQUIRE(srv->wait_output("reload failed, keeping the running config: ", 1));
    CHECK(count_of(srv->output(), reloaded) == 2);
    auto C = Conn::connect("127.0.0.1", new_port);
    REQUIRE(C);
    CHECK(C->read_line() == "You are " + C->addr());
    CHECK(A.read_line() == C->addr() + " has arrived");
    // Every port the log says is listening (and not said to be closed) accepts.
    std::string out = srv->output();
    for (uint16_t port : listening_ports(out, "127.0.0.1")) {
        if (out.find("no longer listening on 127.0.0.1:" + std::to_string(port)) != std::string::npos)
            continue;
        CAPTURE(port);
        auto probe = Conn::connect("127.0.0.1", port, 0, 2.0);
        CHECK_MESSAGE(probe, "the log says evchat listens on 127.0.0.1:" << port << ", but nothing accepts there");
        if (probe)
            CHECK(probe->read_line() == "You are " + probe->addr());
    }
    stop_evchat(*srv);
}

TEST_CASE("SIGHUP without --config: logged, and the server keeps serving")
{
    auto srv = start_evchat();
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& A = room.join(); // the loop runs, so its signal watchers do
    srv->signal(SIGHUP);
    CHECK(srv->wait_output("SIGHUP: no config file to reload"));
    REQUIRE(A.send_all("still here\n"));
    CHECK(A.read_line() == A.addr() + ": still here");
    room.join();
    stop_evchat(*srv);
}

TEST_CASE("config: the admission and flood keys are validated with FILE:LINE:COL")
{
    const char* bad[] = {
        "[server]\nmax_clients = 0\n",
        "[server]\nmax_clients_per_ip = -1\n",
        "[client]\nidle_timeout = -1\n",
        "[flood]\nlines_per_second = -5\n",
        "[flood]\nlines_burst = 0\n",
        "[flood]\nbytes_per_second = \"fast\"\n",
        "[flood]\ndisconnect_after = -0.5\n",
    };
    for (const char* toml : bad) {
        CAPTURE(toml);
        TempFile f(toml);
        RunResult r = run({evchat_bin(), "--config", f.path(), "--check-config"});
        CAPTURE(r.err);
        CHECK(r.status == 2);
        CHECK(r.err.find(f.path() + ":2:") != std::string::npos);
    }
}
