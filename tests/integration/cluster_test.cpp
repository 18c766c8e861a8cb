// Scale-out: several evchat nodes sharing one room through a real Redis stream — the
// seed's session across nodes, one global order, Redis lost, stalled and restarted, Redis
// down at start, a node shutting down, names unique across the nodes through lost links,
// and the roster and commands of the whole room on every node.
// Skipped where redis-server is not installed.
#include "harness.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <sys/resource.h>
#include <string>
#include <unistd.h>
#include <vector>

using namespace itest;

namespace {

const std::string kUp = "cluster: redis ";  // + "ADDR up, reading ..." once per connect

const std::string kNames = "[room]\nnames = true\n";
const std::string kWholeRoom = "[room]\nnames = true\nroster = true\ncommands = true\n";
// A short lease (in [cluster], so first in what start_nodes adds): a node gone without a
// word is taken for dead within seconds.
const std::string kShortLease = "lease = 16.0\n";  // the least that timeout = 2.0 allows
const double kLease = 16.0;

std::string cluster_config(uint16_t redis_port)
{
    return "[cluster]\nredis = \"127.0.0.1:" + std::to_string(redis_port) + "\"\ntimeout = 2.0\n";
}

// n nodes on one Redis, each with `more` in its config; each has logged its link up
// when this returns.
std::vector<std::unique_ptr<Server>> start_nodes(size_t n, uint16_t redis_port, const std::string& more = "")
{
    std::vector<std::unique_ptr<Server>> nodes;
    for (size_t i = 0; i < n; i++) {
        ServerOptions opts;
        opts.config = cluster_config(redis_port) + more;
        nodes.push_back(start_evchat(opts));
        REQUIRE_MESSAGE(nodes.back()->wait_output(" up, reading "), nodes.back()->output_tail());
    }
    return nodes;
}

// Connects to a node and waits for the greeting, which in a cluster comes once the
// newcomer is in the room.
std::unique_ptr<Conn> greeted(uint16_t port)
{
    auto c = Conn::connect("127.0.0.1", port);
    REQUIRE(c);
    REQUIRE(c->read_line() == "You are " + c->addr());
    return c;
}

// A Redis, two nodes on it, and a member on each; the first has heard the second arrive.
struct TwoNodes {
    std::unique_ptr<Server> redis;
    std::vector<std::unique_ptr<Server>> nodes;
    std::vector<std::unique_ptr<Conn>> clients;
};

TwoNodes two_nodes(const std::string& more = "")
{
    TwoNodes t;
    t.redis = start_redis();
    t.nodes = start_nodes(2, t.redis->port(), more);
    t.clients.push_back(greeted(t.nodes[0]->port()));
    t.clients.push_back(greeted(t.nodes[1]->port()));
    REQUIRE(t.clients[0]->read_line() == t.clients[1]->addr() + " has arrived");
    return t;
}

// A newcomer on port, at the name prompt.
std::unique_ptr<Conn> asked(uint16_t port)
{
    auto c = Conn::connect("127.0.0.1", port);
    REQUIRE(c);
    REQUIRE(c->read_line() == "Your name?");
    return c;
}

// Sends a name (and whatever follows it); returns the first line of the answer.
std::string answer(Conn& c, const std::string& name)
{
    REQUIRE(c.send_all(name + "\n"));
    return c.read_line();
}

// A newcomer on port that asks for name and gets it.
std::unique_ptr<Conn> named(uint16_t port, const std::string& name)
{
    auto c = asked(port);
    CHECK(answer(*c, name) == "You are " + name);
    return c;
}

// A newcomer on port asks for name and gets it; witness hears it arrive. Returns the
// newcomer, still in the room.
std::unique_ptr<Conn> name_is_free(uint16_t port, const std::string& name, Conn& witness)
{
    auto c = named(port, name);
    CHECK(witness.read_line() == name + " has arrived");
    return c;
}

// Holds Redis's next write commands (XADD, EVAL) unrun until killed: once one of
// `commands` shows in CLIENT LIST, every normal connection is cut and Redis unpaused,
// so what it held is dropped and the nodes must send it again.
void drop_held_commands(uint16_t port, const std::function<void()>& say)
{
    REQUIRE(redis_command(port, "CLIENT PAUSE 20000 WRITE") == "+OK");
    say();
    double deadline = now() + kTimeout;
    auto held = [&] {
        std::string list = redis_command(port, "CLIENT LIST");
        return list.find("cmd=xadd") != std::string::npos || list.find("cmd=eval") != std::string::npos;
    };
    while (!held() && now() < deadline)
        usleep(10000);  // polling Redis for the held command, within a deadline
    REQUIRE(redis_command(port, "CLIENT KILL TYPE normal").rfind(':', 0) == 0);  // the count killed
    REQUIRE(redis_command(port, "CLIENT UNPAUSE") == "+OK");
}

// What /who answers c.
std::string who(Conn& c)
{
    REQUIRE(c.send_all("/who\n"));
    return c.read_line();
}

// Each of `clients` reads its next `count` lines.
std::vector<std::vector<std::string>> next_lines(const std::vector<Conn*>& clients, size_t count)
{
    std::vector<std::vector<std::string>> heard;
    for (Conn* c : clients) {
        heard.emplace_back();
        for (size_t i = 0; i < count; i++)
            heard.back().push_back(c->read_line());
    }
    return heard;
}

bool have_redis()
{
    if (!redis_bin().empty())
        return true;
    MESSAGE("SKIPPED: redis-server is not installed; no cluster tests");
    return false;
}

// Each of `clients` reads until it has `count` lines of the form "ADDR: text" from the
// given senders; returns them per client (other lines are kept too, for the order).
std::vector<std::vector<std::string>> hear(std::vector<std::unique_ptr<Conn>>& clients, size_t count)
{
    std::vector<std::vector<std::string>> heard(clients.size());
    for (size_t i = 0; i < clients.size(); i++) {
        while (heard[i].size() < count) {
            std::string line = clients[i]->read_line();
            if (is_mark(line)) {
                FAIL_CHECK("client " << i << " after " << heard[i].size() << " lines: " << line);
                break;
            }
            heard[i].push_back(line);
        }
    }
    return heard;
}

}  // namespace

TEST_CASE("cluster: the seed's session across two nodes is the book's")
{
    if (!have_redis())
        return;
    auto redis = start_redis();
    auto nodes = start_nodes(2, redis->port());
    // A and C on the first node, B on the second.
    auto t = seed_session("127.0.0.1", {nodes[0]->port(), nodes[1]->port(), nodes[0]->port()});
    CHECK(t == seed_expected);
    for (auto& n : nodes)
        stop_evchat(*n);
}

TEST_CASE("cluster: 50 clients over 3 nodes hear every line once, in one global order")
{
    if (!have_redis())
        return;
    auto redis = start_redis();
    auto nodes = start_nodes(3, redis->port());
    const size_t n = 50, k = 20;
    std::vector<std::unique_ptr<Conn>> clients;
    for (size_t i = 0; i < n; i++)
        clients.push_back(greeted(nodes[i % 3]->port()));
    // Everyone hears the arrivals after its own, in the order they joined.
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            REQUIRE(clients[i]->read_line() == clients[j]->addr() + " has arrived");

    // Each line names its sender's index: connections to different nodes' ports may share
    // a local port, and so an ADDR, which then cannot tell two senders apart.
    for (size_t i = 0; i < n; i++) {
        std::string lines;
        for (size_t seq = 0; seq < k; seq++)
            lines += "line " + std::to_string(i) + " " + std::to_string(seq) + "\n";
        REQUIRE(clients[i]->send_all(lines));
    }
    auto heard = hear(clients, n * k);
    for (size_t i = 0; i < n; i++) {
        CAPTURE(i);
        CHECK(heard[i] == heard[0]);  // one global order
        std::vector<size_t> next(n);  // per sender: the seq it must say next
        for (const std::string& line : heard[i]) {
            size_t colon = line.find(": line ");
            REQUIRE(colon != std::string::npos);
            size_t sender = 0, seq = 0;
            REQUIRE(sscanf(line.c_str() + colon + 7, "%zu %zu", &sender, &seq) == 2);
            REQUIRE(sender < n);
            CHECK(line.substr(0, colon) == clients[sender]->addr());
            CHECK(seq == next[sender]++);
        }
        for (size_t sender = 0; sender < n; sender++)
            CHECK(next[sender] == k);
    }
    for (auto& node : nodes)
        stop_evchat(*node);
}

TEST_CASE("cluster: Redis killed and restarted: lines before, during and after reach everyone once, in order")
{
    if (!have_redis())
        return;
    auto [redis, nodes, clients] = two_nodes();
    uint16_t port = redis->port();
    Conn& x = *clients[0];
    Conn& y = *clients[1];

    REQUIRE(x.send_all("before 1\nbefore 2\n"));
    auto before = hear(clients, 2);
    CHECK(before[0] == std::vector<std::string>{x.addr() + ": before 1", x.addr() + ": before 2"});
    CHECK(before[1] == before[0]);

    redis->signal(SIGKILL);
    REQUIRE(redis->wait_exit());
    for (auto& node : nodes)
        REQUIRE_MESSAGE(node->wait_output("retrying in"), node->output_tail());
    // Said while Redis is away: the nodes do not read it, TCP holds it.
    REQUIRE(x.send_all("during x\n"));
    REQUIRE(y.send_all("during y\n"));

    redis = start_redis(port);
    for (auto& node : nodes)
        REQUIRE_MESSAGE(node->wait_output(" up, reading ", 2), node->output_tail());
    REQUIRE(y.send_all("after y\n"));
    auto rest = hear(clients, 3);
    CHECK(rest[0] == rest[1]);
    std::vector<std::string> said = rest[0], expected{x.addr() + ": during x", y.addr() + ": during y",
                                                      y.addr() + ": after y"};
    std::sort(said.begin(), said.end());
    std::sort(expected.begin(), expected.end());
    CHECK(said == expected);
    // y's own lines in the order y said them.
    auto pos = [&](const std::string& l) { return std::find(rest[0].begin(), rest[0].end(), l) - rest[0].begin(); };
    CHECK(pos(y.addr() + ": during y") < pos(y.addr() + ": after y"));
    // Redis came back without its data, and each node says so.
    for (auto& node : nodes)
        CHECK_MESSAGE(node->output().find("is not the one this node read") != std::string::npos, node->output_tail());
    for (auto& node : nodes)
        stop_evchat(*node);
}

TEST_CASE("cluster: with Redis down at start a newcomer waits for its greeting, then chats")
{
    if (!have_redis())
        return;
    uint16_t port = free_port();
    ServerOptions opts;
    opts.config = cluster_config(port);
    auto node = start_evchat(opts);
    REQUIRE(node->wait_output("retrying in"));
    auto a = Conn::connect("127.0.0.1", node->port());
    REQUIRE(a);
    // Not in the room yet, so not greeted: nothing comes while Redis is away.
    CHECK(a->read_line(0.5) == kTimedOut);

    auto redis = start_redis(port);
    REQUIRE_MESSAGE(node->wait_output(" up, reading "), node->output_tail());
    CHECK(a->read_line() == "You are " + a->addr());
    auto b = greeted(node->port());
    CHECK(a->read_line() == b->addr() + " has arrived");
    REQUIRE(a->send_all("hello\n"));
    CHECK(a->read_line() == a->addr() + ": hello");
    CHECK(b->read_line() == a->addr() + ": hello");
    stop_evchat(*node);
}

TEST_CASE("cluster: a client gone before its arrival came back is heard to arrive, then to leave")
{
    if (!have_redis())
        return;
    auto redis = start_redis();
    uint16_t port = redis->port();
    auto nodes = start_nodes(2, port);
    auto observer = greeted(nodes[1]->port());

    redis->signal(SIGKILL);
    REQUIRE(redis->wait_exit());
    REQUIRE(nodes[0]->wait_output("retrying in"));
    auto ghost = Conn::connect("127.0.0.1", nodes[0]->port());
    REQUIRE(ghost);
    std::string addr = ghost->addr();
    ghost->close();

    redis = start_redis(port);
    CHECK(observer->read_line() == addr + " has arrived");
    CHECK(observer->read_line() == addr + " has left");
    for (auto& node : nodes)
        stop_evchat(*node);
}

TEST_CASE("cluster: time without Redis does not count against a client's idle timeout")
{
    if (!have_redis())
        return;
    auto redis = start_redis();
    uint16_t port = redis->port();
    ServerOptions opts;
    opts.config = cluster_config(port) + "[client]\nidle_timeout = 1.0\n";
    auto node = start_evchat(opts);
    REQUIRE(node->wait_output(" up, reading "));
    auto a = greeted(node->port());

    redis->signal(SIGKILL);
    REQUIRE(redis->wait_exit());
    REQUIRE(node->wait_output("retrying in"));
    // Longer than the idle timeout without being heard, through no fault of its own.
    CHECK(a->read_line(1.5) == kTimedOut);
    REQUIRE(a->send_all("still here\n"));
    redis = start_redis(port);
    CHECK(a->read_line() == a->addr() + ": still here");
    // Its clock runs again: silent now, it does time out.
    CHECK(a->read_line() == "error: idle timeout");
    stop_evchat(*node);
}

TEST_CASE("cluster: a node that shuts down tells the other nodes its members left")
{
    if (!have_redis())
        return;
    auto [redis, nodes, clients] = two_nodes(kShortLease);
    Conn& a = *clients[0];
    Conn& b = *clients[1];

    nodes[0]->signal(SIGTERM);
    REQUIRE(nodes[0]->wait_exit());
    CHECK(nodes[0]->exit_status() == 0);
    CHECK(a.read_line() == kEof);
    CHECK(b.read_line() == a.addr() + " has left");
    // Once its lease has run out the node is swept, with nobody left to tell of.
    CHECK_MESSAGE(nodes[1]->wait_output("with no members left", 1, 2 * kLease), nodes[1]->output_tail());
    CHECK(b.read_line(0.5) == kTimedOut);
    stop_evchat(*nodes[1]);
}

TEST_CASE("cluster: a node that dies: another tells the room its members left, and their names are free")
{
    if (!have_redis())
        return;
    auto redis = start_redis();
    auto nodes = start_nodes(3, redis->port(), kShortLease + kWholeRoom);
    auto alice = named(nodes[0]->port(), "alice");
    CHECK(alice->read_line() == "Present (0):");
    auto carol = named(nodes[2]->port(), "carol");
    CHECK(carol->read_line() == "Present (1): alice");
    CHECK(alice->read_line() == "carol has arrived");
    auto bob = named(nodes[1]->port(), "bob");
    CHECK(bob->read_line() == "Present (2): alice, carol");
    auto dave = named(nodes[1]->port(), "dave");
    CHECK(dave->read_line() == "Present (3): alice, carol, bob");
    auto gone = asked(nodes[1]->port());  // left before the node died: not told again
    CHECK(answer(*gone, "gone") == "You are gone");
    gone->close();
    for (Conn* c : {alice.get(), carol.get()}) {
        CHECK(c->read_line() == "bob has arrived");
        CHECK(c->read_line() == "dave has arrived");
        CHECK(c->read_line() == "gone has arrived");
        CHECK(c->read_line() == "gone has left");
    }

    nodes[1]->signal(SIGKILL);
    REQUIRE(nodes[1]->wait_exit());
    // Exactly one of the two survivors sweeps; everyone left hears each leave once.
    for (Conn* c : {alice.get(), carol.get()}) {
        std::vector<std::string> heard{c->read_line(2 * kLease), c->read_line()};
        std::sort(heard.begin(), heard.end());
        CHECK(heard == std::vector<std::string>{"bob has left", "dave has left"});
    }
    // The sweeper logs when its tick is answered, which may be after the leaves came back.
    auto sweeps = [&] {
        size_t n = 0;
        for (size_t i : {0, 2})
            n += nodes[i]->output().find("taken for dead; telling the room its 2 members left") != std::string::npos;
        return n;
    };
    double deadline = now() + kTimeout;
    while (sweeps() == 0 && now() < deadline)
        usleep(10000);  // polling the two logs, within a deadline
    CHECK(sweeps() == 1);
    // Its members are in no roster any more.
    for (Conn* c : {alice.get(), carol.get()})
        CHECK(who(*c) == "Present (2): alice, carol");
    auto new_bob = name_is_free(nodes[0]->port(), "bob", *carol);
    CHECK(new_bob->read_line() == "Present (2): alice, carol");
    CHECK(alice->read_line() == "bob has arrived");
    REQUIRE(alice->send_all("still here\n"));
    CHECK(carol->read_line() == "alice: still here");  // and nothing before it
    for (size_t i : {0, 2})
        stop_evchat(*nodes[i]);
}

TEST_CASE("cluster: a node stopped longer than its lease is swept, and when it comes back it exits")
{
    if (!have_redis())
        return;
    auto [redis, nodes, clients] = two_nodes(kShortLease);
    Conn& a = *clients[0];
    Conn& b = *clients[1];

    nodes[1]->signal(SIGSTOP);  // a paused VM, or a node cut off from Redis
    CHECK(a.read_line(2 * kLease) == b.addr() + " has left");
    REQUIRE(b.send_all("said while stopped\n"));
    nodes[1]->signal(SIGCONT);
    REQUIRE(nodes[1]->wait_exit(2 * kTimeout));
    CHECK(nodes[1]->exit_status() == 1);
    CHECK(nodes[1]->output().find("this node was taken for dead") != std::string::npos);
    CHECK(b.read_until_eof(kTimeout, nullptr).find("said while stopped") == std::string::npos);
    // Nor did it reach the stream, where a node started later could have read it: the
    // swept node learned its fate before it sent anything.
    std::string cli = redis_bin().substr(0, redis_bin().rfind("server")) + "cli";
    RunResult stream = run({cli, "-p", std::to_string(redis->port()), "XRANGE", "evchat:room", "-", "+"});
    CHECK(stream.status == 0);
    CHECK(stream.out.find("/swept") != std::string::npos);  // the burial is there
    CHECK(stream.out.find("said while stopped") == std::string::npos);
    // What the stopped node said after its sweep reaches nobody, and its leave is not said twice.
    REQUIRE(a.send_all("after\n"));
    CHECK(a.read_line() == a.addr() + ": after");
    stop_evchat(*nodes[0]);
}

TEST_CASE("cluster: after Redis itself was away longer than the lease, nobody is swept")
{
    if (!have_redis())
        return;
    auto [redis, nodes, clients] = two_nodes(kShortLease);
    Conn& a = *clients[0];
    Conn& b = *clients[1];

    redis->signal(SIGSTOP);
    for (auto& node : nodes)
        REQUIRE_MESSAGE(node->wait_output("no reply for"), node->output_tail());
    usleep(static_cast<useconds_t>(kLease * 1e6));  // every liveness key runs out meanwhile
    redis->signal(SIGCONT);
    for (auto& node : nodes)
        REQUIRE_MESSAGE(node->wait_output(" up, reading ", 2, 2 * kTimeout), node->output_tail());
    // A sweep would come within a lease and a third of the link being back: none does.
    CHECK(a.read_line(1.5 * kLease) == kTimedOut);
    REQUIRE(b.send_all("still here\n"));
    CHECK(a.read_line() == b.addr() + ": still here");
    for (auto& node : nodes) {
        CHECK(node->output().find("taken for dead") == std::string::npos);
        stop_evchat(*node);
    }
}

TEST_CASE("cluster: a Redis that stops answering is taken for lost, and the link comes back")
{
    if (!have_redis())
        return;
    auto redis = start_redis();
    auto nodes = start_nodes(1, redis->port());
    auto a = greeted(nodes[0]->port());
    redis->signal(SIGSTOP);  // connections stay open; nothing answers
    CHECK_MESSAGE(nodes[0]->wait_output("no reply for"), nodes[0]->output_tail());
    redis->signal(SIGCONT);
    REQUIRE_MESSAGE(nodes[0]->wait_output(" up, reading ", 2, 3 * kTimeout), nodes[0]->output_tail());
    REQUIRE(a->send_all("after the stall\n"));
    CHECK(a->read_line() == a->addr() + ": after the stall");
    stop_evchat(*nodes[0]);
}

TEST_CASE("cluster: XADDs that Redis dropped unanswered are sent again, and heard once")
{
    if (!have_redis())
        return;
    auto [redis, nodes, clients] = two_nodes();
    Conn& a = *clients[0];
    drop_held_commands(redis->port(), [&] { REQUIRE(a.send_all("one\ntwo\nthree\n")); });
    auto heard = hear(clients, 3);
    std::vector<std::string> expected{a.addr() + ": one", a.addr() + ": two", a.addr() + ": three"};
    CHECK(heard[0] == expected);
    CHECK(heard[1] == expected);
    // Nothing more: a line said now is the next everyone hears.
    REQUIRE(a.send_all("four\n"));
    CHECK(hear(clients, 1)[1] == std::vector<std::string>{a.addr() + ": four"});
    for (auto& node : nodes)
        stop_evchat(*node);
}

TEST_CASE("cluster: a Redis that takes commands and answers none pauses input, and loses nothing")
{
    if (!have_redis())
        return;
    auto redis = start_redis();
    uint16_t port = redis->port();
    ServerOptions opts;
    opts.config = "[cluster]\nredis = \"127.0.0.1:" + std::to_string(port) + "\"\ntimeout = 30.0\nlease = 100.0\n";
    auto node = start_evchat(opts);
    REQUIRE(node->wait_output(" up, reading "));
    auto a = greeted(node->port());

    REQUIRE(redis_command(port, "CLIENT PAUSE 30000 WRITE") == "+OK");
    const int n = 60000;  // 6 MB: more than the node lets wait for Redis
    std::string text;
    for (int i = 0; i < n; i++)
        text += numbered(i, 99) + "\n";
    size_t off = 0;
    double deadline = now() + 2 * kTimeout;
    while (node->output().find("pausing client input") == std::string::npos && now() < deadline) {
        long k = a->send_some(text.data() + off, std::min<size_t>(text.size() - off, 65536));
        REQUIRE(k >= 0);
        off += static_cast<size_t>(k);
        a->wait_readable(0.01);  // nothing comes back while Redis holds every XADD
    }
    REQUIRE_MESSAGE(node->output().find("pausing client input") != std::string::npos, node->output_tail());
    CHECK(off < text.size());  // TCP holds the rest back
    REQUIRE(redis_command(port, "CLIENT UNPAUSE") == "+OK");
    int next = 0;
    size_t heard = send_and_hear(*a, text.substr(off), n, 6 * kTimeout, [&](const std::string& line) {
        CHECK(line == a->addr() + ": " + numbered(next++, 99));
    });
    CHECK(heard == static_cast<size_t>(n));
    CHECK(node->wait_output("reading client input"));
    stop_evchat(*node);
}

TEST_CASE("cluster: a stream restored from an older copy replays nothing from before a node's start")
{
    if (!have_redis())
        return;
    char dir[] = "/tmp/evchat-itest-redis-XXXXXX";
    REQUIRE(mkdtemp(dir));
    std::vector<std::string> keep{"--dir", dir};
    auto redis = start_redis(0, keep);
    uint16_t port = redis->port();
    {
        auto old = start_nodes(1, port);
        auto x = greeted(old[0]->port());
        REQUIRE(x->send_all("ancient history\n"));
        REQUIRE(x->read_line() == x->addr() + ": ancient history");
        stop_evchat(*old[0]);
    }
    REQUIRE(redis_command(port, "SAVE") == "+OK");
    auto nodes = start_nodes(1, port);
    auto b = greeted(nodes[0]->port());
    REQUIRE(b->send_all("before the restart\n"));
    REQUIRE(b->read_line() == b->addr() + ": before the restart");

    redis->signal(SIGKILL);
    REQUIRE(redis->wait_exit());
    redis = start_redis(port, keep);  // loads the older copy
    REQUIRE_MESSAGE(nodes[0]->wait_output(" up, reading ", 2), nodes[0]->output_tail());
    CHECK(nodes[0]->output().find("is not the one this node read") != std::string::npos);
    REQUIRE(b->send_all("after the restart\n"));
    CHECK(b->read_line() == b->addr() + ": after the restart");  // no replay before it
    stop_evchat(*nodes[0]);
    redis.reset();
    std::string dump = std::string(dir) + "/dump.rdb";
    unlink(dump.c_str());
    rmdir(dir);
}

TEST_CASE("cluster: a newcomer never let in gets no greeting when the node shuts down")
{
    if (!have_redis())
        return;
    ServerOptions opts;
    opts.config = cluster_config(free_port()) + "[server]\nshutdown_grace = 0.5\n";
    auto node = start_evchat(opts);
    REQUIRE(node->wait_output("retrying in"));
    auto a = Conn::connect("127.0.0.1", node->port());
    REQUIRE(a);
    CHECK(a->read_line(0.3) == kTimedOut);
    node->signal(SIGTERM);
    CHECK(a->read_line() == kEof);  // not "You are ...": it was never in the room
    REQUIRE(node->wait_exit());
    CHECK(node->exit_status() == 0);
}

TEST_CASE("cluster: a name is unique across the nodes, and free again once its holder leaves")
{
    if (!have_redis())
        return;
    auto redis = start_redis();
    auto nodes = start_nodes(2, redis->port(), kNames);
    auto alice = named(nodes[0]->port(), "alice");

    // On the other node: the name is taken there too; another one is not.
    auto other = asked(nodes[1]->port());
    CHECK(answer(*other, "alice") == "error: name taken");
    CHECK(other->read_line() == "Your name?");
    // A name and a line in one write: the line waits for the name's answer, then is said.
    CHECK(answer(*other, "bob\nhello from bob") == "You are bob");
    CHECK(alice->read_line() == "bob has arrived");
    CHECK(alice->read_line() == "bob: hello from bob");
    CHECK(other->read_line() == "bob: hello from bob");

    alice->close();
    CHECK(other->read_line() == "alice has left");
    name_is_free(nodes[1]->port(), "alice", *other);
    CHECK(nodes[1]->output().find("is named alice") != std::string::npos);
    for (auto& node : nodes)
        stop_evchat(*node);
}

TEST_CASE("cluster: a name given back while Redis dropped the command is given back again")
{
    if (!have_redis())
        return;
    auto redis = start_redis();
    auto nodes = start_nodes(2, redis->port(), kNames);
    auto alice = named(nodes[0]->port(), "alice");
    auto bob = named(nodes[1]->port(), "bob");
    CHECK(alice->read_line() == "bob has arrived");

    // Alice's leave and the release of her name are held, then dropped unrun.
    drop_held_commands(redis->port(), [&] { alice->close(); });
    CHECK(bob->read_line() == "alice has left");
    name_is_free(nodes[1]->port(), "alice", *bob);
    for (auto& node : nodes)
        stop_evchat(*node);
}

TEST_CASE("cluster: a claim whose answer was lost, sent again, finds itself and not a rival")
{
    if (!have_redis())
        return;
    auto redis = start_redis(0, {"--enable-debug-command", "local"});
    uint16_t port = redis->port();
    auto nodes = start_nodes(1, port, kNames);
    auto carol = asked(nodes[0]->port());

    // Redis sleeps longer than the node's [cluster] timeout: the claim is run late, and
    // its answer goes to a connection the node has given up.
    auto sleeper = Conn::connect("127.0.0.1", port);
    REQUIRE(sleeper);
    REQUIRE(sleeper->send_all("DEBUG SLEEP 5\r\n"));
    auto probe = Conn::connect("127.0.0.1", port);
    REQUIRE(probe);
    bool asleep = false;
    for (int i = 0; i < 20 && !asleep; i++) {
        REQUIRE(probe->send_all("PING\r\n"));
        asleep = probe->read_line(0.3) == kTimedOut;  // no answer: Redis is in the sleep
    }
    REQUIRE(asleep);
    CHECK(answer(*carol, "carol") == "You are carol");
    CHECK(nodes[0]->output().find("no reply for") != std::string::npos);
    std::string key = "evchat:room:name:carol";
    CHECK(redis_command(port, "EXISTS " + key) == ":1");
    carol->close();
    stop_evchat(*nodes[0]);  // waits for the release's answer
    CHECK(redis_command(port, "EXISTS " + key) == ":0");
}

// (That a dead node's members leave every roster once swept is held in the test of a node
// that dies, above, which waits out the lease once for both.)
TEST_CASE("cluster: the roster, /who, /nick and /me are the whole room's on every node")
{
    if (!have_redis())
        return;
    auto redis = start_redis();
    auto nodes = start_nodes(3, redis->port(), kWholeRoom);
    auto alice = named(nodes[0]->port(), "alice");
    CHECK(alice->read_line() == "Present (0):");
    auto bob = named(nodes[1]->port(), "bob");
    CHECK(bob->read_line() == "Present (1): alice");
    CHECK(alice->read_line() == "bob has arrived");
    auto carol = named(nodes[2]->port(), "carol");
    CHECK(carol->read_line() == "Present (2): alice, bob");
    for (Conn* c : {alice.get(), bob.get()})
        CHECK(c->read_line() == "carol has arrived");
    // A newcomer on B hears of the members of A, B and C, in the global order.
    auto dave = named(nodes[1]->port(), "dave");
    CHECK(dave->read_line() == "Present (3): alice, bob, carol");
    for (Conn* c : {alice.get(), bob.get(), carol.get()})
        CHECK(c->read_line() == "dave has arrived");
    for (Conn* c : {alice.get(), bob.get(), carol.get(), dave.get()})
        CHECK(who(*c) == "Present (4): alice, bob, carol, dave");

    // A name taken on A is refused on B.
    auto late = asked(nodes[1]->port());
    CHECK(answer(*late, "alice") == "error: name taken");
    CHECK(late->read_line() == "Your name?");
    late->close();

    // A rename on A and a line on C at once: every member hears both in one order.
    REQUIRE(alice->send_all("/nick ann\n"));
    REQUIRE(carol->send_all("meanwhile\n"));
    auto heard = next_lines({alice.get(), bob.get(), carol.get(), dave.get()}, 2);
    std::vector<std::string> both = heard[0];
    std::sort(both.begin(), both.end());
    CHECK(both == std::vector<std::string>{"alice is now ann", "carol: meanwhile"});
    for (const auto& lines : heard)
        CHECK(lines == heard[0]);
    // The old name is free on C then; the renamed member kept its place.
    auto alice2 = named(nodes[2]->port(), "alice");
    CHECK(alice2->read_line() == "Present (4): ann, bob, carol, dave");
    for (Conn* c : {alice.get(), bob.get(), carol.get(), dave.get()})
        CHECK(c->read_line() == "alice has arrived");
    REQUIRE(carol->send_all("/me waves\n"));
    std::vector<Conn*> everyone{alice.get(), bob.get(), carol.get(), dave.get(), alice2.get()};
    for (Conn* c : everyone)
        CHECK(c->read_line() == "* carol waves");
    for (Conn* c : everyone)
        CHECK(who(*c) == "Present (5): ann, bob, carol, dave, alice");
    for (auto& node : nodes)
        stop_evchat(*node);
}

TEST_CASE("cluster: after a lost link, and after Redis restarted without its data, every roster is the room")
{
    if (!have_redis())
        return;
    auto redis = start_redis();
    uint16_t port = redis->port();
    auto nodes = start_nodes(2, port, kWholeRoom);
    auto alice = named(nodes[0]->port(), "alice");
    CHECK(alice->read_line() == "Present (0):");
    auto bob = named(nodes[1]->port(), "bob");
    CHECK(bob->read_line() == "Present (1): alice");
    CHECK(alice->read_line() == "bob has arrived");
    REQUIRE(bob->send_all("/nick bo\n"));
    for (Conn* c : {alice.get(), bob.get()})
        CHECK(c->read_line() == "bob is now bo");

    // The links are cut, Redis keeps its data: each node loads the room again as it
    // resumes, bo under the new name in B's member set.
    REQUIRE(redis_command(port, "CLIENT KILL TYPE normal").rfind(':', 0) == 0);
    for (auto& node : nodes)
        REQUIRE_MESSAGE(node->wait_output(" up, reading ", 2), node->output_tail());
    auto carol = named(nodes[1]->port(), "carol");
    CHECK(carol->read_line() == "Present (2): alice, bo");
    for (Conn* c : {alice.get(), bob.get()})
        CHECK(c->read_line() == "carol has arrived");
    for (Conn* c : {alice.get(), bob.get(), carol.get()})
        CHECK(who(*c) == "Present (3): alice, bo, carol");
    // B's tick after the reconnect, which came before carol's claim, found its set right.
    for (auto& node : nodes)
        CHECK_MESSAGE(node->output().find("said its") == std::string::npos, node->output_tail());

    // Redis comes back empty: each node says its members again (its census) before
    // anything else, so once everyone has heard a newcomer of each node arrive, every node
    // has applied both censuses.
    redis->signal(SIGKILL);
    REQUIRE(redis->wait_exit());
    for (auto& node : nodes)
        REQUIRE_MESSAGE(node->wait_output("retrying in"), node->output_tail());
    redis = start_redis(port);
    for (auto& node : nodes)
        REQUIRE_MESSAGE(node->wait_output(" up, reading ", 3), node->output_tail());
    auto dave = named(nodes[0]->port(), "dave");
    dave->read_line();  // its roster: whichever census came first
    auto erin = named(nodes[1]->port(), "erin");
    erin->read_line();
    for (Conn* c : {alice.get(), bob.get(), carol.get()}) {
        CHECK(c->read_line() == "dave has arrived");
        CHECK(c->read_line() == "erin has arrived");
    }
    CHECK(dave->read_line() == "erin has arrived");
    std::vector<Conn*> everyone{alice.get(), bob.get(), carol.get(), dave.get(), erin.get()};
    std::string room = who(*alice);
    for (Conn* c : everyone)
        CHECK(who(*c) == room);
    // Whatever order the censuses came in, the newcomers follow them.
    CHECK(room.rfind("Present (5): ", 0) == 0);
    CHECK(room.find(", dave, erin") == room.size() - 12);
    for (const std::string name : {"alice", "bo", "carol"})
        CHECK(room.find(name) != std::string::npos);
    for (auto& node : nodes)
        stop_evchat(*node);
}

TEST_CASE("cluster: 2,000 members over two nodes: a newcomer's roster on either lists them all, in order")
{
    if (!have_redis())
        return;
    const size_t total = 2000;
    rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < total + 200 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, total + 200);
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    auto redis = start_redis();
    // presence "none": nobody is sent 2,000 arrivals it would not read.
    auto nodes = start_nodes(2, redis->port(), "[room]\nroster = true\npresence = \"none\"\n");
    std::vector<std::unique_ptr<Conn>> members;
    std::string names;
    for (size_t i = 0; i < total; i++) {
        auto c = Conn::connect("127.0.0.1", nodes[i % 2]->port());
        REQUIRE(c);
        REQUIRE(c->read_line() == "You are " + c->addr());
        REQUIRE(c->read_line() == "Present (" + std::to_string(i) + "):" + (i ? " " + names : ""));
        names += (i ? ", " : "") + c->addr();
        members.push_back(std::move(c));
    }
    for (size_t n = 0; n < 2; n++) {
        auto newcomer = Conn::connect("127.0.0.1", nodes[n]->port());
        REQUIRE(newcomer);
        CHECK(newcomer->read_line() == "You are " + newcomer->addr());
        CHECK(newcomer->read_line() == "Present (" + std::to_string(total + n) + "): " + names);
        names += ", " + newcomer->addr();
        members.push_back(std::move(newcomer));
    }
    for (auto& node : nodes)
        stop_evchat(*node);
}

TEST_CASE("cluster: config errors")
{
    auto check = [](const std::string& text, const std::string& error) {
        TempFile f(text);
        RunResult r = run({evchat_bin(), "--check-config", "--config", f.path()});
        CHECK(r.status == 2);
        CHECK_MESSAGE(r.err.find(f.path() + ":") != std::string::npos, r.err);
        CHECK_MESSAGE(r.err.find(error) != std::string::npos, r.err);
    };
    check("[cluster]\nstream = \"room\"\n", "[cluster] needs redis");
    check("[cluster]\nredis = \"redis.example:6379\"\n", "redis must be");
    check("[cluster]\nredis = \"127.0.0.1:6379\"\ntimeout = 0\n", "timeout must be between");
    check("[cluster]\nredis = \"127.0.0.1:6379\"\nlease = 5\n", "lease must be between 10 and");
    check("[cluster]\nredis = \"127.0.0.1:6379\"\ntimeout = 10\nlease = 39\n", ":4:9: lease must be at least 3 * timeout + 10 s");
}
