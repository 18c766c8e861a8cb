// Room history, presence and the skipped-lines notice on the real binary, over real
// sockets: on one node, and across two cluster nodes on a real redis-server (those cases
// are SKIPPED without it). With the defaults nothing of them shows.
//
// Nothing waits for silence: a line that must not come is shown absent by the line that
// does come next.
#include "harness.h"
#include "web_client.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <vector>

using namespace itest;

namespace {

std::unique_ptr<Server> start_with(const std::string& config)
{
    ServerOptions opts;
    opts.config = config;
    return start_evchat(opts);
}

std::unique_ptr<Conn> connect_to(uint16_t port, int rcvbuf = 0)
{
    auto c = Conn::connect("127.0.0.1", port, rcvbuf);
    REQUIRE(c);
    return c;
}

// A newcomer at port, greeted.
std::unique_ptr<Conn> greeted(uint16_t port, int rcvbuf = 0)
{
    auto c = connect_to(port, rcvbuf);
    REQUIRE(c->read_line() == "You are " + c->addr());
    return c;
}

// ---- the cluster: a Redis and nodes on it ----

bool have_redis()
{
    if (!redis_bin().empty())
        return true;
    MESSAGE("SKIPPED: redis-server is not installed; no cluster cases");
    return false;
}

// One node on the Redis at redis_port, with `more` in its config, its link up.
std::unique_ptr<Server> start_node(uint16_t redis_port, const std::string& more)
{
    auto node = start_with("[cluster]\nredis = \"127.0.0.1:" + std::to_string(redis_port) + "\"\ntimeout = 2.0\n" +
                           more);
    REQUIRE_MESSAGE(node->wait_output(" up, reading "), node->output_tail());
    return node;
}

struct TwoNodes {
    explicit TwoNodes(const std::string& more)
    {
        redis = start_redis();
        REQUIRE(redis);
        nodes.push_back(start_node(redis->port(), more));
        nodes.push_back(start_node(redis->port(), more));
    }
    ~TwoNodes()
    {
        for (auto& n : nodes)
            stop_evchat(*n);
    }
    uint16_t port(size_t i) const { return nodes[i]->port(); }
    std::unique_ptr<Server> redis;
    std::vector<std::unique_ptr<Server>> nodes;
};

// ---- what the checks share ----

const size_t kWidth = 12;

std::string numbered_lines(int from, int to)
{
    std::string text;
    for (int i = from; i < to; i++)
        text += numbered(i, kWidth) + "\n";
    return text;
}

// The number of a line "PREFIXnumbered(n)", or -1 if it is not one.
int number_of(const std::string& line, const std::string& prefix)
{
    if (line.compare(0, prefix.size(), prefix) != 0)
        return -1;
    int n = atoi(line.c_str() + prefix.size());
    return line == prefix + numbered(n, kWidth) ? n : -1;
}

// F floods numbered lines while a newcomer joins at newcomer_port; what the newcomer gets
// of them, its history and then the live room, must be one run of consecutive lines: none
// lost and none twice where the history ends and the live room begins.
void history_meets_live(Conn& F, uint16_t newcomer_port, size_t history)
{
    const int before = static_cast<int>(history) + 50, flood = 30000;
    const std::string prefix = F.addr() + ": ";
    // The history is full before the newcomer comes.
    REQUIRE(send_and_hear(F, numbered_lines(0, before), before) == static_cast<size_t>(before));
    // The flood is under way (F has heard its first lines back) when the newcomer
    // connects, with two of the server's 64 KiB reads more on their way, and the rest after.
    const int heard_first = 5000;
    REQUIRE(send_and_hear(F, numbered_lines(before, before + heard_first), heard_first) ==
            static_cast<size_t>(heard_first));
    std::string text = numbered_lines(before + heard_first, before + flood);
    long first = F.send_some(text.data(), 128 * 1024);
    REQUIRE(first >= 0);
    auto N = connect_to(newcomer_port);
    // F hears the rest of its lines and, somewhere among them, N arrive.
    size_t rest = static_cast<size_t>(flood - heard_first) + 1;
    CHECK(send_and_hear(F, text.substr(static_cast<size_t>(first)), rest) == rest);

    REQUIRE(N->read_line() == "You are " + N->addr());
    REQUIRE(N->read_line() == "History (" + std::to_string(history) + "):");
    std::vector<int> got;
    std::string bad;
    while (bad.empty() && (got.empty() || got.back() < before + flood - 1)) {
        std::string line = N->read_line();
        int n = number_of(line, prefix);
        if (n < 0 || (!got.empty() && n != got.back() + 1))
            bad = "after " + (got.empty() ? std::string("the greeting") : std::to_string(got.back())) + ": " +
                  escape(line);
        else
            got.push_back(n);
    }
    CHECK(bad == "");
    REQUIRE(got.size() >= history);
    int seam = got[history - 1];  // the last line of the history
    CAPTURE(seam);
    CHECK(got.front() == seam - static_cast<int>(history) + 1);
    WARN_MESSAGE((seam >= before && seam < before + flood - 1),
                 "the newcomer joined outside the flood: the seam was not under load this time");
}

// A summary line "+N arrived: a, b (+K more); -M left: ..." read into its parts.
struct Part {
    long count = 0;
    std::vector<std::string> names;
    long more = 0;
};

// False if line is not a well-formed summary of at most max_line bytes (with its "\n"),
// each part's names and "more" adding up to its count.
bool parse_summary(const std::string& line, size_t max_line, Part& arrived, Part& left)
{
    arrived = left = {};
    if (line.empty() || line.size() + 1 > max_line || is_mark(line))
        return false;
    size_t at = 0;
    while (at < line.size()) {
        size_t end = line.find("; ", at);
        std::string part = line.substr(at, end == std::string::npos ? std::string::npos : end - at);
        at = end == std::string::npos ? line.size() : end + 2;
        bool arrival = part[0] == '+';
        if (part[0] != '+' && part[0] != '-')
            return false;
        Part& p = arrival ? arrived : left;
        const std::string word = arrival ? " arrived: " : " left: ";
        size_t list = part.find(word);
        if (p.count != 0 || list == std::string::npos)
            return false;
        p.count = atol(part.c_str() + 1);
        std::string names = part.substr(list + word.size());
        size_t more = names.rfind("(+");
        if (more != std::string::npos) {
            p.more = atol(names.c_str() + more + 2);
            if (names.compare(names.size() - 6, 6, " more)") != 0)
                return false;
            names = more == 0 ? "" : names.substr(0, more - 1);
        }
        for (size_t from = 0; !names.empty() && from <= names.size();) {
            size_t comma = names.find(", ", from);
            p.names.push_back(names.substr(from, comma == std::string::npos ? std::string::npos : comma - from));
            from = comma == std::string::npos ? names.size() + 1 : comma + 2;
        }
        if (p.count <= 0 || static_cast<long>(p.names.size()) + p.more != p.count)
            return false;
    }
    return arrived.count + left.count > 0;
}

// W reads summaries until they add up to the arrivals of `joiners` (in the order they came,
// listed names first in each) or, when leaving, to their leaves (in any order).
void hear_summaries(Conn& W, const std::vector<std::unique_ptr<Conn>>& joiners, bool arrivals, size_t max_line)
{
    size_t told = 0;
    std::set<std::string> gone;
    for (int lines = 0; told < joiners.size() && lines < static_cast<int>(joiners.size()); lines++) {
        std::string line = W.read_line();
        CAPTURE(line);
        Part arrived, left;
        REQUIRE(parse_summary(line, max_line, arrived, left));
        const Part& p = arrivals ? arrived : left;
        CHECK((arrivals ? left : arrived).count == 0);
        for (size_t i = 0; i < p.names.size(); i++) {
            if (arrivals)
                CHECK(p.names[i] == joiners.at(told + i)->addr());
            else
                CHECK(gone.insert(p.names[i]).second);
        }
        told += static_cast<size_t>(p.count);
    }
    CHECK(told == joiners.size());
    if (!arrivals)
        for (const std::string& name : gone)
            CHECK(std::any_of(joiners.begin(), joiners.end(), [&](const auto& j) { return j->addr() == name; }));
}

// Drop-policy limits that a reader with a small receive buffer soon exceeds.
const std::string kDrop = "[client]\nmax_line_bytes = 1024\noutput_soft_limit = \"64KiB\"\n"
                          "output_hard_limit = \"128KiB\"\nslow_policy = \"drop\"\n";

// P says numbered lines while S (which joined with a small receive buffer) does not read;
// then S reads them: P's lines in order, and every gap told just before it by notices of
// exactly its size. Returns the lines the notices told of in all.
long notices_tell_the_gaps(Conn& P, Conn& S)
{
    // More than the kernel's buffers hold for S (the server's send buffer grows to MBs).
    const int n = 80000;
    const std::string prefix = P.addr() + ": ";
    std::string text;
    for (int i = 0; i < n; i++)
        text += numbered(i, 100) + "\n";
    CHECK(send_and_hear(P, text, n) == static_cast<size_t>(n));
    int last = -1;
    long told = 0, told_in_all = 0;
    std::string bad;
    // Until every line P said is heard or told of; each read bounded, and at most n + n reads.
    for (int reads = 0; bad.empty() && last + told < n - 1 && reads < 2 * n; reads++) {
        std::string line = S.read_line();
        if (line.rfind("notice: ", 0) == 0) {
            long k = atol(line.c_str() + 8);
            if (k <= 0 || line != "notice: " + std::to_string(k) + " lines skipped, you were too slow")
                bad = escape(line);
            told += k;
            told_in_all += k;
            continue;
        }
        int num = line.compare(0, prefix.size(), prefix) == 0 ? atoi(line.c_str() + prefix.size()) : -1;
        if (num < 0 || line != prefix + numbered(num, 100) || num - last - 1 != told)
            bad = "after line " + std::to_string(last) + " and notices of " + std::to_string(told) + ": " +
                  escape(line);
        last = num;
        told = 0;
    }
    CHECK(bad == "");
    CHECK(told_in_all > 0);
    // S stayed in the room: what P says now is S's next line.
    REQUIRE(P.send_all("after\n"));
    CHECK(P.read_line() == prefix + "after");
    CHECK(S.read_line() == prefix + "after");
    return told_in_all;
}

// The lines the server logged as dropped, in all.
long logged_drops(const Server& srv)
{
    std::string out = srv.output();
    long sum = 0;
    for (size_t at = 0; (at = out.find(": dropped ", at)) != std::string::npos; at++)
        sum += atol(out.c_str() + at + 10);
    return sum;
}

}  // namespace

// ---- one node ----

TEST_CASE("room features: with the defaults, and with history 0 and presence each, nothing of them shows")
{
    for (const char* config : {"", "[room]\nhistory = 0\npresence = \"each\"\n"}) {
        CAPTURE(config);
        auto srv = start_with(config);
        Room room("127.0.0.1", srv->port());
        Conn& A = room.join();
        REQUIRE(A.send_all("said before\n"));
        CHECK(A.read_line() == A.addr() + ": said before");
        Conn& B = room.join();  // its greeting, then A hears it arrive
        REQUIRE(A.send_all("hi\n"));
        CHECK(B.read_line() == A.addr() + ": hi");  // no "History" line, no history
        CHECK(A.read_line() == A.addr() + ": hi");
        B.close();
        CHECK(A.read_line() == B.addr() + " has left");
        stop_evchat(*srv);
    }
}

TEST_CASE("history: a newcomer gets History (K) and the last K lines, ending where its live room begins, under a flood")
{
    auto srv = start_with("[room]\nhistory = 100\n");
    INFO("server output: " << srv->output_tail());
    auto F = greeted(srv->port());
    REQUIRE(F->read_line() == "History (0):");
    history_meets_live(*F, srv->port(), 100);
    stop_evchat(*srv);
}

TEST_CASE("history: chat lines and /me as broadcast, nothing else; names, roster and commands in their place")
{
    auto srv = start_with("[room]\nnames = true\nroster = true\ncommands = true\nhistory = 3\n");
    auto A = connect_to(srv->port());
    REQUIRE(A->read_line() == "Your name?");
    REQUIRE(A->send_all("alice\none\n/me waves\n/nick ann\ntwo\n"));
    CHECK(A->read_line() == "You are alice");
    CHECK(A->read_line() == "Present (0):");
    CHECK(A->read_line() == "History (0):");
    for (const char* line : {"alice: one", "* alice waves", "alice is now ann", "ann: two"})
        CHECK(A->read_line() == line);
    auto B = connect_to(srv->port());
    REQUIRE(B->read_line() == "Your name?");
    REQUIRE(B->send_all("bob\n/who\n"));
    for (const char* line : {"You are bob", "Present (1): ann", "History (3):", "alice: one", "* alice waves",
                             "ann: two", "Present (2): ann, bob"})
        CHECK(B->read_line() == line);
    CHECK(A->read_line() == "bob has arrived");
    stop_evchat(*srv);
}

TEST_CASE("history: history_bytes trims the oldest lines")
{
    auto srv = start_with("[room]\nhistory = 1000\nhistory_bytes = 100\n");
    auto A = greeted(srv->port());
    REQUIRE(A->read_line() == "History (0):");
    for (int i = 0; i < 20; i++) {
        REQUIRE(A->send_all("line " + std::to_string(10 + i) + "\n"));
        REQUIRE(A->read_line() == A->addr() + ": line " + std::to_string(10 + i));
    }
    size_t width = (A->addr() + ": line 10\n").size();
    size_t k = 100 / width;
    auto B = greeted(srv->port());
    REQUIRE(B->read_line() == "History (" + std::to_string(k) + "):");
    for (size_t i = 20 - k; i < 20; i++)
        CHECK(B->read_line() == A->addr() + ": line " + std::to_string(10 + i));
    CHECK(A->read_line() == B->addr() + " has arrived");
    REQUIRE(A->send_all("live\n"));
    CHECK(B->read_line() == A->addr() + ": live");
    stop_evchat(*srv);
}

TEST_CASE("history: WebSocket newcomers get it framed, a message a line, repaired as every line they get")
{
    auto srv = start_with("[room]\nhistory = 2\n[websocket]\nlisten = [\"127.0.0.1:0\"]\n");
    uint16_t web = logged_port(*srv, "web listening on 127.0.0.1:");
    auto A = greeted(srv->port());
    REQUIRE(A->read_line() == "History (0):");
    for (std::string line : {"first", "caf\xc3\xa9 \xff end", "third"}) {
        REQUIRE(A->send_all(line + "\n"));
        REQUIRE(A->read_line() == A->addr() + ": " + line);
    }
    auto T = greeted(srv->port());  // TCP gets the bytes as they were said
    CHECK(T->read_line() == "History (2):");
    CHECK(T->read_line() == A->addr() + ": caf\xc3\xa9 \xff end");
    CHECK(T->read_line() == A->addr() + ": third");
    CHECK(A->read_line() == T->addr() + " has arrived");
    // The first WebSocket newcomer has the framed history made; the second finds it kept.
    std::vector<std::string> framed = {A->addr() + ": caf\xc3\xa9 \xef\xbf\xbd end", A->addr() + ": third"};
    for (int i = 0; i < 2; i++) {
        auto W = WsConn::connect(web);
        REQUIRE(W);
        CHECK(W->read_message() == "You are " + W->addr());
        CHECK(W->read_message() == "History (2):");
        CHECK(W->read_message() == framed[framed.size() - 2]);
        CHECK(W->read_message() == framed[framed.size() - 1]);
        CHECK(A->read_line() == W->addr() + " has arrived");
        std::string live = "live " + std::to_string(i);
        REQUIRE(A->send_all(live + "\n"));
        CHECK(W->read_message() == A->addr() + ": " + live);
        CHECK(A->read_line() == A->addr() + ": " + live);
        framed.push_back(A->addr() + ": " + live);
        W->conn().close();
        CHECK(A->read_line() == W->addr() + " has left");
    }
    stop_evchat(*srv);
}

TEST_CASE("presence summary: arrivals and leaves said as summaries, cut to the line limit with (+K more)")
{
    const size_t max_line = 128;
    auto srv = start_with("[client]\nmax_line_bytes = 128\n[room]\npresence = \"summary\"\npresence_interval = 1.0\n");
    INFO("server output: " << srv->output_tail());
    auto W = greeted(srv->port());
    // None was said in the last interval: the first summary comes at once, to W too.
    CHECK(W->read_line() == "+1 arrived: " + W->addr());
    std::vector<std::unique_ptr<Conn>> joiners;
    for (int i = 0; i < 12; i++)
        joiners.push_back(greeted(srv->port()));  // greeted, and told of no one
    hear_summaries(*W, joiners, true, max_line);
    for (auto& j : joiners)
        j->close();
    hear_summaries(*W, joiners, false, max_line);
    // A line said now is W's next: nobody's arrival or leave is said on its own.
    REQUIRE(W->send_all("done\n"));
    CHECK(W->read_line() == W->addr() + ": done");
    stop_evchat(*srv);
}

TEST_CASE("presence summary: the roster stays exact, before the summaries say who came and went")
{
    auto srv = start_with("[room]\nroster = true\npresence = \"summary\"\npresence_interval = 5.0\n"
                          "[log]\nlevel = \"debug\"\n");
    auto A = greeted(srv->port());
    CHECK(A->read_line() == "Present (0):");
    CHECK(A->read_line() == "+1 arrived: " + A->addr());
    auto B = greeted(srv->port());
    CHECK(B->read_line() == "Present (1): " + A->addr());
    auto C = greeted(srv->port());
    CHECK(C->read_line() == "Present (2): " + A->addr() + ", " + B->addr());
    std::string a = A->addr();
    A->close();
    REQUIRE(srv->wait_output(a + " left (eof)"));
    auto D = greeted(srv->port());  // A's leave is not said yet, and the roster has it gone
    CHECK(D->read_line() == "Present (2): " + B->addr() + ", " + C->addr());
    Part arrived, left;
    REQUIRE(parse_summary(B->read_line(), 65536, arrived, left));  // the interval since A's
    CHECK(arrived.names == std::vector<std::string>{B->addr(), C->addr(), D->addr()});
    CHECK(left.names == std::vector<std::string>{a});
    stop_evchat(*srv);
}

TEST_CASE("presence none: the room hears no arrivals or leaves; newcomers are greeted")
{
    auto srv = start_with("[room]\npresence = \"none\"\n");
    auto A = greeted(srv->port());
    auto B = greeted(srv->port());
    REQUIRE(B->send_all("hi\n"));
    CHECK(A->read_line() == B->addr() + ": hi");  // not "B has arrived"
    CHECK(B->read_line() == B->addr() + ": hi");
    B->close();
    auto C = greeted(srv->port());
    REQUIRE(C->send_all("x\n"));
    CHECK(A->read_line() == C->addr() + ": x");  // not "B has left"
    CHECK(C->read_line() == C->addr() + ": x");
    stop_evchat(*srv);
}

TEST_CASE("slow_policy drop: the client is told how many lines it missed, before the next one it gets")
{
    auto srv = start_with(kDrop);
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& P = room.join();
    Conn& S = room.join(4096);  // does not read until P is done
    long told = notices_tell_the_gaps(P, S);
    CHECK(told == logged_drops(*srv));
    stop_evchat(*srv);
}

// ---- two cluster nodes ----

TEST_CASE("cluster: the history is the stream's: a newcomer on any node, even one started later, gets the same lines")
{
    if (!have_redis())
        return;
    TwoNodes t("[room]\nhistory = 5\n");
    auto A = greeted(t.port(0));
    REQUIRE(A->read_line() == "History (0):");
    std::vector<std::string> said;
    auto say = [&](const std::string& text) {
        REQUIRE(A->send_all(text + "\n"));
        said.push_back(A->addr() + ": " + text);
        REQUIRE(A->read_line() == said.back());
    };
    for (int i = 0; i < 8; i++)
        say("line " + std::to_string(i));
    auto later = start_node(t.redis->port(), "[room]\nhistory = 5\n");
    CHECK(later->wait_output("cluster: history: 5 lines said before this node joined"));
    for (uint16_t port : {t.port(1), later->port()}) {
        auto N = greeted(port);
        CHECK(N->read_line() == "History (5):");
        for (size_t i = said.size() - 5; i < said.size(); i++)
            CHECK(N->read_line() == said[i]);
        CHECK(A->read_line() == N->addr() + " has arrived");
        say("live");
        CHECK(N->read_line() == said.back());
        N->close();
        CHECK(A->read_line() == N->addr() + " has left");
    }
    stop_evchat(*later);
}

TEST_CASE("cluster: the history ends where the newcomer's live room begins, under a flood on the other node")
{
    if (!have_redis())
        return;
    TwoNodes t("[room]\nhistory = 100\n");
    INFO("node output: " << t.nodes[1]->output_tail());
    auto F = greeted(t.port(0));
    REQUIRE(F->read_line() == "History (0):");
    history_meets_live(*F, t.port(1), 100);
}

TEST_CASE("cluster: presence summary says the other node's arrivals and leaves")
{
    if (!have_redis())
        return;
    const size_t max_line = 128;
    TwoNodes t("[client]\nmax_line_bytes = 128\n[room]\npresence = \"summary\"\npresence_interval = 1.0\n");
    auto W = greeted(t.port(0));
    CHECK(W->read_line() == "+1 arrived: " + W->addr());
    std::vector<std::unique_ptr<Conn>> joiners;
    for (int i = 0; i < 8; i++)
        joiners.push_back(greeted(t.port(1)));
    hear_summaries(*W, joiners, true, max_line);
    for (auto& j : joiners)
        j->close();
    hear_summaries(*W, joiners, false, max_line);
}

TEST_CASE("cluster: presence none: no arrivals or leaves from the other node either")
{
    if (!have_redis())
        return;
    TwoNodes t("[room]\npresence = \"none\"\n");
    auto A = greeted(t.port(0));
    auto B = greeted(t.port(1));
    REQUIRE(B->send_all("hi\n"));
    CHECK(A->read_line() == B->addr() + ": hi");
    CHECK(B->read_line() == B->addr() + ": hi");
    B->close();
    auto C = greeted(t.port(1));
    REQUIRE(C->send_all("x\n"));
    CHECK(A->read_line() == C->addr() + ": x");
    CHECK(C->read_line() == C->addr() + ": x");
}

TEST_CASE("cluster: slow_policy drop: the notice tells a slow reader on one node what the other node's talker said")
{
    if (!have_redis())
        return;
    TwoNodes t(kDrop);
    INFO("node output: " << t.nodes[1]->output_tail());
    auto P = greeted(t.port(0));
    auto S = greeted(t.port(1), 4096);
    CHECK(P->read_line() == S->addr() + " has arrived");
    long told = notices_tell_the_gaps(*P, *S);
    CHECK(told == logged_drops(*t.nodes[1]));
}
