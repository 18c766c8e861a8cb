// Faults the server must survive: a churn of a thousand clients, half of them resetting;
// arbitrary bytes; a client that half-closes and keeps reading.
#include "harness.h"

#include <doctest/doctest.h>

#include <dirent.h>
#include <poll.h>
#include <random>
#include <set>
#include <string>
#include <sys/resource.h>
#include <vector>

using namespace itest;

namespace {

// The open descriptors of a process, -1 if /proc cannot tell.
long open_fds(pid_t pid)
{
    DIR* d = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
    if (!d)
        return -1;
    long n = 0;
    while (dirent* e = readdir(d))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

bool ends_with(const std::string& s, const std::string& tail)
{
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// An observer's account of the room: who is present by the arrivals and leaves it has
// heard. Each arrival must be of someone absent, each leave of someone present.
struct Ledger {
    std::set<std::string> present;
    std::vector<std::string> order; // present, in order of arrival
    size_t arrivals = 0, leaves = 0;
    std::string bad; // the first line that does not fit

    void take(const std::string& line)
    {
        static const std::string arrived = " has arrived", left = " has left";
        if (ends_with(line, arrived)) {
            std::string who = line.substr(0, line.size() - arrived.size());
            if (!present.insert(who).second && bad.empty())
                bad = "arrived twice: " + line;
            order.push_back(who);
            arrivals++;
        } else if (ends_with(line, left)) {
            std::string who = line.substr(0, line.size() - left.size());
            if (present.erase(who) == 0 && bad.empty())
                bad = "left without arriving: " + line;
            for (size_t i = 0; i < order.size(); i++)
                if (order[i] == who) {
                    order.erase(order.begin() + static_cast<long>(i));
                    break;
                }
            leaves++;
        } else if (bad.empty()) {
            bad = "unexpected: " + escape(line);
        }
    }
    // Reads what c has now, line by line, until `stop` (returns true) or nothing is left.
    bool drain(Conn& c, const std::string& stop = "")
    {
        c.read_available();
        std::string line;
        while (c.pop_line(line)) {
            if (!stop.empty() && line == stop)
                return true;
            take(line);
        }
        return false;
    }
};

// bufio.ScanLines over a whole input: split on '\n', one '\r' before it dropped; a last
// line without '\n' is a line too (with its '\r' dropped).
std::vector<std::string> scan_lines(const std::string& in)
{
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < in.size()) {
        size_t nl = in.find('\n', pos);
        std::string line = in.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        out.push_back(line);
        if (nl == std::string::npos)
            break;
        pos = nl + 1;
    }
    return out;
}

} // namespace

TEST_CASE("churn: 1,000 clients come and go in bursts, half by reset; the room stays consistent")
{
    // Each batch is open at once in this process.
    const size_t total = 1000, batch = 100;
    rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4 * batch && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, 4 * batch);
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    ServerOptions opts;
    opts.config = "[room]\nroster = true\n";
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    auto O = Conn::connect("127.0.0.1", srv->port());
    REQUIRE(O);
    REQUIRE(O->read_line() == "You are " + O->addr());
    REQUIRE(O->read_line() == "Present (0):");
    long fds_before = open_fds(srv->pid());
    Ledger ledger;

    // Phase 1: each client is greeted, then half reset, half end their input and read
    // until the server closes.
    double t0 = now();
    for (size_t first = 0; first < total; first += batch) {
        std::vector<std::unique_ptr<Conn>> cs;
        for (size_t i = 0; i < batch; i++) {
            auto c = Conn::connect("127.0.0.1", srv->port());
            REQUIRE_MESSAGE(c, "connect " << first + i);
            cs.push_back(std::move(c));
        }
        for (auto& c : cs) {
            REQUIRE(c->read_line() == "You are " + c->addr());
            ledger.drain(*O);
        }
        for (size_t i = 0; i < batch; i++) {
            if (i % 2)
                cs[i]->close_rst();
            else
                cs[i]->shutdown_write();
        }
        ledger.drain(*O);
        for (size_t i = 0; i < batch; i += 2) {
            bool ended = false;
            cs[i]->read_until_eof(kTimeout, &ended);
            REQUIRE_MESSAGE(ended, "client " << first + i << " was not closed after its input ended");
            cs[i]->close();
            ledger.drain(*O);
        }
    }
    double deadline = now() + 3 * kTimeout;
    while (ledger.leaves < total && ledger.bad.empty() && now() < deadline && !O->ended()) {
        O->wait_readable(0.1);
        ledger.drain(*O);
    }
    CAPTURE(now() - t0);
    CHECK(ledger.bad == "");
    CHECK(ledger.arrivals == total);
    CHECK(ledger.leaves == total);
    CHECK(ledger.present.empty());

    // Phase 2: 200 connections reset before anyone reads from them, some perhaps before
    // the server has accepted them. However the server meets them, what it says balances.
    for (int i = 0; i < 200; i++) {
        auto c = Conn::connect("127.0.0.1", srv->port());
        REQUIRE(c);
        c->close_rst();
    }
    // A newcomer's roster is who was present at its arrival; every one of those leaves.
    auto N = Conn::connect("127.0.0.1", srv->port());
    REQUIRE(N);
    REQUIRE(N->read_line() == "You are " + N->addr());
    std::string roster = N->read_line();
    // The observer's account up to N's arrival must be that roster.
    deadline = now() + 2 * kTimeout;
    bool saw_n = false;
    while (!saw_n && ledger.bad.empty() && now() < deadline && !O->ended()) {
        O->wait_readable(0.1);
        saw_n = ledger.drain(*O, N->addr() + " has arrived");
    }
    REQUIRE(saw_n);
    std::string want = "Present (" + std::to_string(ledger.order.size() + 1) + "): " + O->addr();
    for (auto& who : ledger.order)
        want += ", " + who;
    CHECK(roster == want);
    // Then the ghosts leave: N hears each, and nothing else.
    std::set<std::string> ghosts = ledger.present;
    ledger.take(N->addr() + " has arrived");
    while (!ghosts.empty()) {
        std::string line = N->read_line();
        REQUIRE(ends_with(line, " has left"));
        REQUIRE(ghosts.erase(line.substr(0, line.size() - 9)) == 1);
    }
    REQUIRE(N->send_all("done\n"));
    deadline = now() + kTimeout;
    bool synced = false;
    while (!synced && ledger.bad.empty() && now() < deadline && !O->ended()) {
        O->wait_readable(0.1);
        synced = ledger.drain(*O, N->addr() + ": done");
    }
    CHECK(synced);
    CHECK(N->read_line() == N->addr() + ": done");
    CHECK(ledger.bad == "");
    CHECK(ledger.present == std::set<std::string>{N->addr()});
    CHECK(ledger.arrivals - 1 <= total + 200);

    // Every one of them is closed on the server's side too: only N is new.
    long fds_after = open_fds(srv->pid());
    if (fds_before >= 0 && fds_after >= 0)
        CHECK(fds_after == fds_before + 1);
    // And a last newcomer finds the two of them.
    auto last = Conn::connect("127.0.0.1", srv->port());
    REQUIRE(last);
    CHECK(last->read_line() == "You are " + last->addr());
    CHECK(last->read_line() == "Present (2): " + O->addr() + ", " + N->addr());
    stop_evchat(*srv);
}

TEST_CASE("random bytes from two senders at once: relayed framed like bufio.ScanLines, exactly")
{
    auto srv = start_evchat();
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& A = room.join();
    Conn& C = room.join();
    Conn& B = room.join(); // observes
    std::mt19937 rng(20240601);
    // Any byte (NUL, 0xff, invalid UTF-8 ...), with '\n', '\r' and NUL more frequent than
    // chance; lines stay far below max_line_bytes. Each stream ends in a line without
    // '\n' (which ends in '\r'), delivered when the sender half-closes.
    auto random_stream = [&](size_t size) {
        std::string s;
        while (s.size() < size) {
            unsigned r = rng() % 64;
            s += r == 0 ? '\n' : r == 1 ? '\r' : r == 2 ? '\0' : static_cast<char>(rng() & 0xff);
        }
        std::string tail(3000, '\0');
        for (auto& ch : tail)
            ch = static_cast<char>(rng() & 0xff);
        for (auto& ch : tail)
            if (ch == '\n')
                ch = 'n';
        return s + "\n" + tail + "\r";
    };
    Conn* senders[2] = {&A, &C};
    std::string streams[2] = {random_stream(100000), random_stream(100000)};
    // Sent interleaved, in pieces of random size (cut anywhere, also inside "\r\n").
    size_t off[2] = {0, 0};
    while (off[0] < streams[0].size() || off[1] < streams[1].size()) {
        for (int k = 0; k < 2; k++) {
            size_t piece = std::min<size_t>(streams[k].size() - off[k], 1 + rng() % 4096);
            if (piece == 0)
                continue;
            REQUIRE(senders[k]->send_all(streams[k].substr(off[k], piece)));
            off[k] += piece;
        }
    }
    A.shutdown_write();
    C.shutdown_write();

    std::vector<std::string> want[2] = {scan_lines(streams[0]), scan_lines(streams[1])};
    REQUIRE(want[0].size() > 1000);
    std::vector<std::string> seen[2];
    int left = 0;
    std::string bad;
    while (left < 2 && bad.empty()) {
        std::string line = B.read_line();
        if (is_mark(line)) {
            bad = line;
            break;
        }
        bool matched = false;
        for (int k = 0; k < 2; k++) {
            const std::string& who = senders[k]->addr();
            if (line == who + " has left") {
                left++;
                matched = true;
            } else if (line.compare(0, who.size() + 2, who + ": ") == 0) {
                seen[k].push_back(line.substr(who.size() + 2));
                matched = true;
            }
        }
        if (!matched)
            bad = "unexpected: " + escape(line);
    }
    CHECK(bad == "");
    CHECK(left == 2);
    for (int k = 0; k < 2; k++) {
        CAPTURE(k);
        CHECK(seen[k].size() == want[k].size());
        size_t i = 0;
        while (i < seen[k].size() && i < want[k].size() && seen[k][i] == want[k][i])
            i++;
        CAPTURE(i);
        if (i < want[k].size())
            CHECK(escape(i < seen[k].size() ? seen[k][i] : "<missing>") == escape(want[k][i]));
    }
    // A half-closed sender still gets the whole room's output, then the end.
    size_t a_lines = 0;
    bool a_ok = true;
    for (;;) {
        std::string line = A.read_line();
        if (line == kEof)
            break;
        if (is_mark(line) || !(line.compare(0, A.addr().size() + 2, A.addr() + ": ") == 0 ||
                               line.compare(0, C.addr().size() + 2, C.addr() + ": ") == 0 ||
                               line == C.addr() + " has left")) {
            a_ok = false;
            CHECK(escape(line) == "a line of A or C");
            break;
        }
        a_lines++;
    }
    CHECK(a_ok);
    CHECK(a_lines <= want[0].size() + want[1].size() + 1);
    CHECK(a_lines >= want[0].size());
    // The server is still up.
    REQUIRE(B.send_all("still up\n"));
    CHECK(B.read_line() == B.addr() + ": still up");
    auto D = Conn::connect("127.0.0.1", srv->port());
    REQUIRE(D);
    CHECK(D->read_line() == "You are " + D->addr());
    CHECK(B.read_line() == D->addr() + " has arrived");
    stop_evchat(*srv);
}

TEST_CASE("half-close while output is queued: what was said before the leave arrives, nothing after")
{
    ServerOptions opts; // high enough that A is never a slow consumer here
    opts.config = "[client]\noutput_soft_limit = \"32MiB\"\noutput_hard_limit = \"64MiB\"\n";
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& A = room.join(4096); // does not read until the end
    Conn& B = room.join();
    Conn& C = room.join();
    std::string a = A.addr(), b = B.addr();
    // ~3 MB for A: more than the socket buffers hold, so most of it waits in the server.
    const int n = 30000;
    std::string pad(90, '.');
    std::string text;
    for (int i = 0; i < n; i++)
        text += std::to_string(i) + pad + "\n";
    REQUIRE(B.send_all(text));
    for (int i = 0; i < n; i++) {
        REQUIRE(B.read_line() == b + ": " + std::to_string(i) + pad);
        REQUIRE(C.read_line() == b + ": " + std::to_string(i) + pad);
    }
    // A's input ends (with a last line without '\n'): it leaves at once, backlog or not.
    REQUIRE(A.send_all("last words"));
    A.shutdown_write();
    for (Conn* m : {&B, &C}) {
        CHECK(m->read_line() == a + ": last words");
        CHECK(m->read_line() == a + " has left");
    }
    // What is said after the leave, while A is still draining, is not for A.
    REQUIRE(B.send_all("after the leave\n"));
    CHECK(B.read_line() == b + ": after the leave");
    CHECK(C.read_line() == b + ": after the leave");
    auto D = Conn::connect("127.0.0.1", srv->port()); // nor is a later arrival
    REQUIRE(D);
    CHECK(D->read_line() == "You are " + D->addr());
    CHECK(B.read_line() == D->addr() + " has arrived");
    CHECK(C.read_line() == D->addr() + " has arrived");
    // A reads now: everything said before its leave, in order, its own last line, the end.
    for (int i = 0; i < n; i++) {
        std::string line = A.read_line();
        REQUIRE(line == b + ": " + std::to_string(i) + pad);
    }
    CHECK(A.read_line() == a + ": last words");
    bool ended = false;
    std::string rest = A.read_until_eof(kTimeout, &ended);
    CHECK(ended);
    CHECK(escape(rest) == "");
    stop_evchat(*srv);
}
