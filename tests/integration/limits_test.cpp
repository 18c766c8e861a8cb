// Limits and hostile peers: line length, a 50 MB line, slow consumers (disconnect,
// drop, soft-limit timeout), input backpressure, resets, file descriptor exhaustion.
#include "harness.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <functional>
#include <poll.h>
#include <string>
#include <vector>

using namespace itest;

namespace {

// One connection driven by pump(): what it still has to send, and what to do with each
// line it reads (when reading).
struct Peer {
    explicit Peer(Conn* conn) : c(conn) {}
    Conn* c;
    std::string out;
    size_t off = 0;
    bool reading = true;
    std::function<void(const std::string&)> on_line;
    bool send_failed = false;
    bool sending() const { return off < out.size() && !send_failed; }
};

// Sends and reads for every peer at once until done() is true or the deadline passes.
// Returns done().
bool pump(const std::vector<Peer*>& peers, const std::function<bool()>& done, double timeout)
{
    double deadline = now() + timeout;
    while (!done()) {
        if (now() >= deadline)
            return false;
        std::vector<pollfd> fds;
        for (Peer* p : peers) {
            short ev = 0;
            if (p->reading && !p->c->ended())
                ev |= POLLIN;
            if (p->sending())
                ev |= POLLOUT;
            fds.push_back({ev ? p->c->fd() : -1, ev, 0});
        }
        poll(fds.data(), fds.size(), 100);
        for (size_t i = 0; i < peers.size(); i++) {
            Peer* p = peers[i];
            if (p->sending() && (fds[i].revents & (POLLOUT | POLLERR | POLLHUP))) {
                size_t chunk = std::min<size_t>(p->out.size() - p->off, 256 * 1024);
                long n = p->c->send_some(p->out.data() + p->off, chunk);
                if (n < 0)
                    p->send_failed = true;
                else
                    p->off += static_cast<size_t>(n);
            }
            if (p->reading) {
                p->c->read_available();
                std::string line;
                while (p->c->pop_line(line))
                    if (p->on_line)
                        p->on_line(line);
            }
        }
    }
    return true;
}

// Checks a stream of lines against "SENDER: numbered(0..n-1)" in order, allowing given
// other lines (e.g. a leave) anywhere in between; counts them.
struct Expect {
    Expect(std::string s, size_t w, int count) : sender(std::move(s)), width(w), n(count) {}
    std::string sender;
    size_t width;
    int n;
    int next = 0;
    std::vector<std::string> extra; // allowed lines, counted in extra_seen
    int extra_seen = 0;
    std::string bad; // the first unexpected line
    void operator()(const std::string& line)
    {
        if (next < n && line == sender + ": " + numbered(next, width)) {
            next++;
            return;
        }
        for (auto& e : extra)
            if (line == e) {
                extra_seen++;
                return;
            }
        if (bad.empty())
            bad = "line " + std::to_string(next) + ": " + escape(line);
    }
};

std::string lines_text(int n, size_t width)
{
    std::string s;
    s.reserve(static_cast<size_t>(n) * (width + 1));
    for (int i = 0; i < n; i++)
        s += numbered(i, width) + "\n";
    return s;
}

} // namespace

TEST_CASE("line length: max_line_bytes counting the newline is accepted, one more is an error")
{
    auto srv = start_evchat(); // default max_line_bytes = 65536
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& A = room.join();
    Conn& B = room.join();
    Conn& C = room.join();
    std::string a = A.addr(), b = B.addr();

    std::string longest(65535, 'x'); // + "\n" = 65536 bytes
    REQUIRE(A.send_all(longest + "\n"));
    CHECK(A.read_line() == a + ": " + longest);
    CHECK(B.read_line() == a + ": " + longest);
    CHECK(C.read_line() == a + ": " + longest);

    REQUIRE(A.send_all(std::string(65536, 'y') + "\n")); // 65537 bytes
    CHECK(A.read_line() == "error: line too long (max 65536 bytes)");
    CHECK(A.read_line() == kEof);
    CHECK(B.read_line() == a + " has left");
    CHECK(C.read_line() == a + " has left");

    // An unterminated final line of 65535 bytes is delivered at EOF.
    REQUIRE(B.send_all(std::string(65535, 'z')));
    B.shutdown_write();
    CHECK(C.read_line() == b + ": " + std::string(65535, 'z'));
    CHECK(C.read_line() == b + " has left");
    CHECK(B.read_line() == b + ": " + std::string(65535, 'z'));
    CHECK(B.read_line() == kEof);
    stop_evchat(*srv);
}

TEST_CASE("line length: the limit and the error text follow max_line_bytes")
{
    ServerOptions opts;
    opts.config = "[client]\nmax_line_bytes = 16\n";
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& A = room.join();
    Conn& B = room.join();
    std::string a = A.addr();
    REQUIRE(A.send_all("123456789012345\n")); // 16 bytes
    CHECK(A.read_line() == a + ": 123456789012345");
    CHECK(B.read_line() == a + ": 123456789012345");
    REQUIRE(A.send_all("1234567890123456\n")); // 17 bytes
    CHECK(A.read_line() == "error: line too long (max 16 bytes)");
    CHECK(A.read_line() == kEof);
    CHECK(B.read_line() == a + " has left");
    stop_evchat(*srv);
}

TEST_CASE("line length: the error comes after the output already queued for the client")
{
    ServerOptions opts;
    opts.config = "[client]\nmax_line_bytes = 1024\n"
                  "output_soft_limit = \"32MiB\"\noutput_hard_limit = \"64MiB\"\n";
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& A = room.join(4096); // does not read for now
    Conn& B = room.join();
    std::string a = A.addr(), b = B.addr();
    const int n = 60000; // ~6 MB for A: more than socket buffers hold, below the limits
    REQUIRE(B.send_all(lines_text(n, 80)));
    for (int i = 0; i < n; i++)
        REQUIRE(B.read_line() == b + ": " + numbered(i, 80));
    REQUIRE(A.send_all(std::string(2000, 'L') + "\n"));
    CHECK(B.read_line() == a + " has left");
    for (int i = 0; i < n; i++)
        REQUIRE(A.read_line() == b + ": " + numbered(i, 80));
    CHECK(A.read_line() == "error: line too long (max 1024 bytes)");
    CHECK(A.read_line() == kEof);
    stop_evchat(*srv);
}

TEST_CASE("line length: the Go reference drops the same over-long line (observer's view)")
{
    auto go = start_gochat();
    if (!go) {
        MESSAGE("SKIPPED: GOCHAT_BIN is not set or not executable; no comparison with the Go reference");
        return;
    }
    auto session = [](uint16_t port, Conn* sentinel) {
        Room room("127.0.0.1", port, sentinel);
        Conn& A = room.join();
        Conn& B = room.join();
        Names names{{A.addr(), "A"}};
        REQUIRE(A.send_all(std::string(65535, 'x') + "\n" + std::string(65536, 'y') + "\nnever\n"));
        std::vector<std::string> seen;
        seen.push_back(normalize(room.read(B), names));
        seen.push_back(normalize(room.read(B), names));
        return seen;
    };
    std::vector<std::string> want{"A: " + std::string(65535, 'x'), "A has left"};
    CHECK(session(go->port(), go->sentinel.get()) == want);
    auto srv = start_evchat();
    CHECK(session(srv->port(), nullptr) == want);
    stop_evchat(*srv);
}

TEST_CASE("a 50 MB line without newline: error to the sender, the others are unaffected")
{
    auto srv = start_evchat();
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& B = room.join();
    Conn& C = room.join();
    Conn& A = room.join();
    std::string a = A.addr();
    long hwm_before = srv->vm_hwm_kb();

    const size_t total = 50u << 20;
    const std::string chunk(1 << 20, 'x');
    size_t sent = 0;
    bool send_failed = false, shut = false;
    double deadline = now() + 6 * kTimeout;
    // Send everything (the server drains what follows the error), reading meanwhile.
    while (now() < deadline && !(A.ended() && (sent == total || send_failed))) {
        bool want_out = sent < total && !send_failed;
        short events = static_cast<short>((A.ended() ? 0 : POLLIN) | (want_out ? POLLOUT : 0));
        pollfd p{A.fd(), events, 0};
        poll(&p, 1, 100);
        if (want_out && (p.revents & (POLLOUT | POLLERR | POLLHUP))) {
            long n = A.send_some(chunk.data(), std::min(chunk.size(), total - sent));
            if (n < 0)
                send_failed = true;
            else
                sent += static_cast<size_t>(n);
        }
        if (sent == total && !shut) {
            A.shutdown_write();
            shut = true;
        }
        A.read_available();
    }
    CAPTURE(sent);
    CAPTURE(send_failed);
    bool ended = false;
    std::string got = A.read_until_eof(kTimeout, &ended);
    CHECK(ended);
    CHECK(escape(got) == escape("error: line too long (max 65536 bytes)\n"));
    CHECK(B.read_line() == a + " has left");
    CHECK(C.read_line() == a + " has left");

    // The room goes on, and newcomers are welcome.
    REQUIRE(B.send_all("unaffected\n"));
    CHECK(B.read_line() == B.addr() + ": unaffected");
    CHECK(C.read_line() == B.addr() + ": unaffected");
    room.join();

    // The unfinished line was never held whole in memory (not measurable under ASan,
    // whose quarantine keeps freed blocks).
    long hwm_after = srv->vm_hwm_kb();
    if (hwm_before > 0 && hwm_after > 0 && !srv->maps_contain("libasan")) {
        CAPTURE(hwm_before);
        CAPTURE(hwm_after);
        CHECK(hwm_after - hwm_before < 30 * 1024);
    }
    stop_evchat(*srv);
}

TEST_CASE("slow consumer, disconnect: a client that never reads is dropped, the room keeps flowing")
{
    ServerOptions opts;
    opts.config = "[client]\noutput_soft_limit = \"64KiB\"\noutput_hard_limit = \"256KiB\"\n"
                  "slow_policy = \"disconnect\"\n";
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& O = room.join();
    Conn& S = room.join(4096); // never reads from here on
    Conn& P = room.join();
    const int n = 100000;
    const size_t width = 80; // ~10 MB of output per receiver, far beyond any socket buffers
    Expect o_exp{P.addr(), width, n}, p_exp{P.addr(), width, n};
    o_exp.extra = p_exp.extra = {S.addr() + " has left"};
    Peer o{&O}, p{&P};
    o.on_line = std::ref(o_exp);
    p.on_line = std::ref(p_exp);
    p.out = lines_text(n, width);
    bool done = pump({&o, &p},
                     [&] {
                         return (o_exp.next == n && p_exp.next == n && o_exp.extra_seen >= 1 &&
                                 p_exp.extra_seen >= 1) ||
                                !o_exp.bad.empty() || !p_exp.bad.empty() || O.ended() || P.ended();
                     },
                     12 * kTimeout);
    CHECK(done);
    CHECK(o_exp.bad == "");
    CHECK(p_exp.bad == "");
    CHECK(o_exp.next == n); // every line, in order
    CHECK(p_exp.next == n);
    CHECK(o_exp.extra_seen == 1); // the non-reader left, once
    CHECK(p_exp.extra_seen == 1);
    bool ended = false;
    S.read_until_eof(kTimeout, &ended);
    CHECK(ended); // and its connection is closed
    stop_evchat(*srv);
}

TEST_CASE("slow consumer, drop: the non-reader skips to a line boundary and stays in the room")
{
    ServerOptions opts;
    opts.config = "[client]\noutput_soft_limit = \"64KiB\"\noutput_hard_limit = \"256KiB\"\n"
                  "slow_policy = \"drop\"\n";
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& O = room.join();
    Conn& S = room.join(4096); // does not read until the flood is over
    Conn& P = room.join();
    const int n = 100000;
    const size_t width = 80;
    std::string s = S.addr(), pa = P.addr();
    Expect o_exp{pa, width, n}, p_exp{pa, width, n};
    Peer o{&O}, p{&P};
    o.on_line = std::ref(o_exp);
    p.on_line = std::ref(p_exp);
    p.out = lines_text(n, width);
    bool done = pump({&o, &p},
                     [&] {
                         return (o_exp.next == n && p_exp.next == n) || !o_exp.bad.empty() ||
                                !p_exp.bad.empty() || O.ended() || P.ended();
                     },
                     12 * kTimeout);
    CHECK(done);
    CHECK(o_exp.bad == ""); // in particular no "S has left"
    CHECK(p_exp.bad == "");
    CHECK(o_exp.next == n);

    // P says one more line once the flood is over (S gets it unless a last drop takes it).
    REQUIRE(P.send_all("after the flood\n"));
    CHECK(P.read_line() == pa + ": after the flood");
    CHECK(O.read_line() == pa + ": after the flood");

    // S now reads: whole lines of P, increasing, with lines missing, each gap told by a
    // notice of its exact size; then it talks.
    int received = 0, last = -1, gaps = 0;
    long told = 0, told_in_all = 0;  // lines the notices since the last line said were skipped; in all
    std::string bad;
    bool s_after = false, s_heard = false, o_heard = false;
    Peer sp{&S};
    sp.out = "still here\n";
    sp.on_line = [&](const std::string& line) {
        if (line == pa + ": after the flood" && !s_after && !s_heard) {
            s_after = true;
            told = 0;
            return;
        }
        if (line.rfind("notice: ", 0) == 0) {
            long skipped = atol(line.c_str() + 8);
            if ((skipped <= 0 || line != "notice: " + std::to_string(skipped) + " lines skipped, you were too slow") &&
                bad.empty())
                bad = "after line " + std::to_string(last) + ": " + escape(line);
            told += skipped;
            told_in_all += skipped;
            return;
        }
        if (line == s + ": still here") {
            s_heard = true;
            return;
        }
        std::string prefix = pa + ": ";
        int num = line.compare(0, prefix.size(), prefix) == 0 ? atoi(line.c_str() + prefix.size()) : -1;
        if (s_after || s_heard || num <= last || line != prefix + numbered(num, width)) {
            if (bad.empty())
                bad = "after line " + std::to_string(last) + ": " + escape(line);
            return;
        }
        if (num != last + 1)
            gaps++;
        if (num - last - 1 != told && bad.empty())  // each gap is told, exactly, just before it
            bad = "line " + std::to_string(num) + " after line " + std::to_string(last) + " and notices of " +
                  std::to_string(told);
        told = 0;
        last = num;
        received++;
    };
    o.on_line = [&](const std::string& line) {
        if (line == s + ": still here")
            o_heard = true;
        else if (bad.empty())
            bad = "observer: " + escape(line);
    };
    done = pump({&sp, &o}, [&] { return (s_heard && o_heard) || S.ended() || O.ended() || !bad.empty(); },
                3 * kTimeout);
    CAPTURE(received);
    CAPTURE(last);
    CAPTURE(gaps);
    CHECK(done);
    CHECK(bad == "");
    CAPTURE(s_after);
    CHECK(s_heard); // still in the room: its line goes to everyone, itself included
    CHECK(o_heard);
    CHECK(received > 0);
    CHECK(received < n); // lines were dropped: a gap between whole lines, in order
    CHECK(told_in_all == n - received + (s_after ? 0 : 1));  // every line P said: heard, or told of
    CHECK_FALSE(S.ended());
    stop_evchat(*srv);
}

TEST_CASE("slow consumer, soft limit: above output_soft_limit for output_soft_seconds is enough")
{
    ServerOptions opts;
    opts.config = "[client]\noutput_soft_limit = \"64KiB\"\noutput_hard_limit = \"64MiB\"\n"
                  "output_soft_seconds = 0.5\nslow_policy = \"disconnect\"\n";
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& S = room.join(4096); // never reads from here on
    Conn& P = room.join();
    const int n = 100000;
    const size_t width = 80;
    // What S is sent in all stays far below the hard limit.
    REQUIRE(static_cast<size_t>(n) * (P.addr().size() + 2 + width + 1) < (64u << 20) / 2);
    Expect p_exp{P.addr(), width, n};
    p_exp.extra = {S.addr() + " has left"};
    Peer p{&P};
    p.on_line = std::ref(p_exp);
    p.out = lines_text(n, width);
    bool done = pump({&p},
                     [&] { return (p_exp.next == n && p_exp.extra_seen >= 1) || !p_exp.bad.empty() || P.ended(); },
                     12 * kTimeout);
    CHECK(done);
    CHECK(p_exp.bad == "");
    CHECK(p_exp.next == n);
    CHECK(p_exp.extra_seen == 1);
    bool ended = false;
    S.read_until_eof(kTimeout, &ended);
    CHECK(ended);
    stop_evchat(*srv);
}

TEST_CASE("input backpressure: a client that does not read cannot keep talking, and loses nothing")
{
    ServerOptions opts;
    opts.config = "[client]\noutput_soft_limit = \"64KiB\"\noutput_hard_limit = \"64MiB\"\n";
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& O = room.join();
    Conn& F = room.join(); // floods, and does not read at first
    const int n = 100000;
    const size_t width = 180; // ~20 MB of input
    const size_t out_line = F.addr().size() + 2 + width + 1;
    Expect o_exp{F.addr(), width, n}, f_exp{F.addr(), width, n};
    Peer o{&O}, f{&F};
    o.on_line = std::ref(o_exp);
    f.on_line = std::ref(f_exp);
    f.out = lines_text(n, width);
    f.reading = false;

    // Phase 1: F writes until the server stops taking its input (1 s without progress).
    size_t last_off = 0;
    double last_progress = now();
    bool blocked = pump({&o, &f},
                        [&] {
                            if (f.off != last_off) {
                                last_off = f.off;
                                last_progress = now();
                            }
                            return now() - last_progress > 1.0 || !f.sending() || !o_exp.bad.empty();
                        },
                        6 * kTimeout);
    CHECK(blocked);
    CHECK(f.sending()); // F is held back: it could not send everything
    CHECK_FALSE(f.send_failed);
    // Whatever reached the room by now is bounded by the soft limit plus socket buffers.
    int before = o_exp.next;
    double idle_from = now();
    pump({&o}, [&] {
        if (o_exp.next != before) {
            before = o_exp.next;
            idle_from = now();
        }
        return now() - idle_from > 1.0;
    }, 3 * kTimeout);
    int heard = o_exp.next;
    CAPTURE(heard);
    CAPTURE(f.off);
    CHECK(heard > 0);
    CHECK(static_cast<size_t>(heard) * out_line <= (64u << 10) + (8u << 20));
    CHECK(heard < n / 2);

    // Phase 2: F reads; all its lines come back in order, and the rest of its input flows.
    f.reading = true;
    bool done = pump({&o, &f},
                     [&] {
                         return (o_exp.next == n && f_exp.next == n) || !o_exp.bad.empty() ||
                                !f_exp.bad.empty() || O.ended() || F.ended();
                     },
                     12 * kTimeout);
    CHECK(done);
    CHECK(o_exp.bad == "");
    CHECK(f_exp.bad == "");
    CHECK(o_exp.next == n);
    CHECK(f_exp.next == n);
    stop_evchat(*srv);
}

TEST_CASE("a peer that resets its connection leaves like any other; the server keeps serving")
{
    auto srv = start_evchat();
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& A = room.join();
    Conn& B = room.join();
    Conn& C = room.join();
    std::string b = B.addr();
    REQUIRE(B.send_all("before reset\n"));
    CHECK(A.read_line() == b + ": before reset");
    CHECK(C.read_line() == b + ": before reset");
    // B has its own line unread: close() with SO_LINGER 0 sends an RST.
    B.close_rst();
    CHECK(A.read_line() == b + " has left");
    CHECK(C.read_line() == b + " has left");
    REQUIRE(A.send_all("after reset\n"));
    CHECK(A.read_line() == A.addr() + ": after reset");
    CHECK(C.read_line() == A.addr() + ": after reset");
    room.join();
    stop_evchat(*srv);
}

TEST_CASE("fd exhaustion: existing clients keep chatting, no busy loop, accepts resume")
{
    ServerOptions opts;
    opts.nofile = 32;
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    const size_t total = 60;
    std::vector<std::unique_ptr<Conn>> conns;
    for (size_t i = 0; i < total; i++) {
        auto c = Conn::connect("127.0.0.1", srv->port());
        REQUIRE_MESSAGE(c, "connect " << i);
        conns.push_back(std::move(c));
    }
    std::vector<bool> greeted(total, false);
    std::string bad;
    // Collects greetings ("You are ADDR" as the first line) from everyone who has one.
    auto collect = [&] {
        size_t count = 0;
        for (size_t i = 0; i < total; i++) {
            if (!conns[i])
                continue;
            if (!greeted[i]) {
                conns[i]->read_available();
                std::string line;
                if (conns[i]->pop_line(line)) {
                    if (line != "You are " + conns[i]->addr() && bad.empty())
                        bad = "client " + std::to_string(i) + ": " + line;
                    greeted[i] = true;
                } else if (conns[i]->ended() && bad.empty())
                    bad = "client " + std::to_string(i) + " was closed without a greeting";
            }
            count += greeted[i];
        }
        return count;
    };
    // Wait until the number of greeted clients has not changed for 1 s.
    size_t count = 0;
    double changed = now(), deadline = now() + 3 * kTimeout;
    while (now() < deadline && now() - changed < 1.0) {
        size_t c = collect();
        if (c != count) {
            count = c;
            changed = now();
        }
        std::vector<pollfd> fds;
        for (size_t i = 0; i < total; i++)
            fds.push_back({!greeted[i] ? conns[i]->fd() : -1, POLLIN, 0});
        poll(fds.data(), fds.size(), 50);
    }
    CHECK(bad == "");
    const size_t accepted = count;
    CAPTURE(accepted);
    REQUIRE(accepted >= 3);
    REQUIRE(accepted < total); // the limit bites: some connections wait in the kernel
    REQUIRE(greeted[0]);

    // While connections are pending, the server does not spin.
    double t0 = now(), cpu0 = srv->cpu_seconds();

    // The existing clients still chat: client 0 talks, every greeted client hears it
    // after nothing but arrivals.
    REQUIRE(conns[0]->send_all("still chatting\n"));
    for (size_t i = 0; i < total; i++) {
        if (!greeted[i])
            continue;
        CAPTURE(i);
        std::string line;
        for (size_t k = 0; k <= total; k++) {
            line = conns[i]->read_line();
            if (line.size() < 12 || line.compare(line.size() - 12, 12, " has arrived") != 0)
                break;
        }
        CHECK(line == conns[0]->addr() + ": still chatting");
    }
    // Measure over at least one second with connections pending; none may be refused.
    while (now() - t0 < 1.0) {
        CHECK(collect() == accepted);
        std::vector<pollfd> fds;
        for (size_t i = 0; i < total; i++)
            fds.push_back({!greeted[i] ? conns[i]->fd() : -1, POLLIN, 0});
        poll(fds.data(), fds.size(), 50);
    }
    double cpu = srv->cpu_seconds() - cpu0, wall = now() - t0;
    CAPTURE(cpu);
    CAPTURE(wall);
    CHECK(cpu >= 0);
    CHECK(cpu < 0.5 * wall);
    CHECK(bad == "");

    // Free 10 descriptors: 10 waiting connections get their greeting.
    size_t closed = 0;
    for (size_t i = 1; i < total && closed < 10; i++)
        if (greeted[i]) {
            conns[i].reset();
            closed++;
        }
    size_t expect = std::min(closed, total - accepted);
    size_t newly = 0;
    deadline = now() + 3 * kTimeout;
    while (now() < deadline && newly < expect) {
        size_t c = collect();
        newly = c - (accepted - closed);
        std::vector<pollfd> fds;
        for (size_t i = 0; i < total; i++)
            fds.push_back({conns[i] && !greeted[i] ? conns[i]->fd() : -1, POLLIN, 0});
        poll(fds.data(), fds.size(), 50);
    }
    CHECK(bad == "");
    CHECK(newly == expect);
    stop_evchat(*srv);
}
