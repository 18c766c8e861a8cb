// Session: the chat rules of one participant, driven without a socket — greeting, names
// (answered at once and later), commands, flood control, and the leave rules.
#include "session.h"

#include "commands.h"

#include <cstdio>
#include <deque>
#include <doctest/doctest.h>
#include <memory>
#include <string>
#include <vector>

namespace {

struct FakeClock : Clock {
    double t = 1000;
    double now() const override { return t; }
};

// A registry that answers when the test says, as Redis would.
struct HeldNames : NameRegistry {
    struct Asked {
        uint64_t id;
        Claimant* who;
        std::string name;
    };
    std::deque<Asked> asked;
    std::vector<uint64_t> released;
    uint64_t next = 1;
    uint64_t claim(Claimant& who, const std::string& name) override
    {
        asked.push_back({next, &who, name});
        return next++;
    }
    void cancel(uint64_t id) override { std::erase_if(asked, [&](const Asked& a) { return a.id == id; }); }
    void release(uint64_t id) override { released.push_back(id); }
    void answer(bool ok)
    {
        REQUIRE(!asked.empty());
        Asked a = asked.front();
        asked.pop_front();
        a.who->named(a.id, a.name, ok);
    }
};

// Everything sessions share, as the server lends it.
struct World {
    explicit World(NameRegistry* registry = nullptr) : names(registry ? *registry : local) {}
    ~World()
    {
        fclose(log_file);
        ev_loop_destroy(loop);
    }
    // What the log holds so far.
    std::string logged()
    {
        fflush(log_file);
        rewind(log_file);
        std::string out;
        char buf[4096];
        for (size_t n; (n = fread(buf, 1, sizeof buf, log_file)) > 0;)
            out.append(buf, n);
        return out;
    }

    Config config;
    Broadcaster room;
    LocalNames local{room};
    NameRegistry& names;
    struct ev_loop* loop = ev_loop_new(EVFLAG_AUTO);
    IdleTimer idle{loop};
    Stats stats;
    FILE* log_file = tmpfile();
    Log log{LogLevel::debug, log_file};
    FakeClock clock;
    SessionContext ctx{room, names, idle, config, stats, log, clock};
};

// A participant and the transport it speaks through, recording what the session asks of it.
struct Participant : SessionHost {
    Participant(World& w, std::string addr) : session(w.ctx, *this, reader, std::move(addr)) {}

    void send(std::string text) override { reader.push(std::move(text), reader.here()); }
    void greet(std::string text) override { reader.push(std::move(text), 0); }
    void pause_input(double seconds) override { pauses.push_back(seconds); }
    bool input_waiting() const override { return waiting; }
    void input_changed() override {}
    void leaving(LeaveReason) override { left = true; }

    void say(const std::string& bytes) { session.input(bytes.data(), bytes.size()); }
    // Everything it is owed, taken as a socket would.
    std::string heard()
    {
        std::string out;
        while (reader.pending() > 0) {
            iovec iov[16];
            size_t n = reader.fill(iov, 16);
            size_t taken = 0;
            for (size_t i = 0; i < n; i++) {
                out.append(static_cast<char*>(iov[i].iov_base), iov[i].iov_len);
                taken += iov[i].iov_len;
            }
            reader.consume(taken);
        }
        return out;
    }

    RoomLog::Reader reader;
    std::vector<double> pauses;
    bool waiting = false;
    bool left = false;
    Session session;
};

}  // namespace

TEST_CASE("a session greets, enters, says lines, and leaves at the end of its input")
{
    World w;
    Participant a(w, "A:1"), b(w, "B:2");
    a.session.start();
    CHECK(a.heard() == "You are A:1\n");
    b.session.start();
    CHECK(b.heard() == "You are B:2\n");
    CHECK(a.heard() == "B:2 has arrived\n");
    CHECK(a.session.takes_input());
    a.say("hi\r\nthere\nunfinished");
    CHECK(b.heard() == "A:1: hi\nA:1: there\n");
    a.session.input_ended(LeaveReason::eof);  // the last line is a line (bufio.Scanner at EOF)
    CHECK(a.left);
    CHECK(!a.session.talking());
    CHECK(b.heard() == "A:1: unfinished\nA:1 has left\n");
    CHECK(a.heard() == "A:1: hi\nA:1: there\nA:1: unfinished\n");  // not its own leave
    CHECK(w.stats.lines_received == 3);
    CHECK(w.stats.leaves[static_cast<size_t>(LeaveReason::eof)] == 1);
}

TEST_CASE("a reset is counted as one; a line too long gets its error last, then the leave")
{
    World w;
    w.config.client.max_line_bytes = 16;
    Participant a(w, "A:1"), b(w, "B:2"), c(w, "C:3");
    for (Participant* p : {&a, &b, &c})
        p->session.start();
    b.session.input_ended(LeaveReason::reset);
    CHECK(w.stats.leaves[static_cast<size_t>(LeaveReason::reset)] == 1);
    c.say("short\n" + std::string(40, 'x'));
    CHECK(c.left);
    CHECK(c.heard() == "You are C:3\nB:2 has left\nC:3: short\nerror: line too long (max 16 bytes)\n");
    CHECK(a.heard() == "You are A:1\nB:2 has arrived\nC:3 has arrived\nB:2 has left\nC:3: short\nC:3 has left\n");
    CHECK(w.stats.leaves[static_cast<size_t>(LeaveReason::line_too_long)] == 1);
    CHECK(w.logged().find("C:3 disconnected: line too long (max 16 bytes)") != std::string::npos);
}

TEST_CASE("names: asked first, invalid and taken ones refused, then the name in every line")
{
    World w;
    w.config.room.names = true;
    Participant a(w, "A:1"), b(w, "B:2");
    a.session.start();
    CHECK(a.heard() == "Your name?\n");
    CHECK(a.session.takes_input());
    a.say("not valid!\nalice\n");
    CHECK(a.heard() == "error: invalid name\nYour name?\nYou are alice\n");
    b.session.start();
    b.say("alice\nbob\nhello\n");
    CHECK(b.heard() == "Your name?\nerror: name taken\nYour name?\nYou are bob\nbob: hello\n");
    CHECK(a.heard() == "bob has arrived\nbob: hello\n");
    CHECK(w.logged().find("A:1 is named alice") != std::string::npos);
}

TEST_CASE("a name answered later holds the input back, and what followed comes out after it")
{
    HeldNames names;
    World w(&names);
    w.config.room.names = true;
    Participant a(w, "A:1"), o(w, "O:2");
    o.session.start();
    o.say("obs\n");
    names.answer(true);
    o.heard();
    a.session.start();
    a.say("alice\nfirst line\n");
    CHECK(!a.session.takes_input());  // waiting for the answer
    CHECK(o.heard().empty());
    names.answer(false);  // the line held back is the next try
    CHECK(a.heard() == "Your name?\nerror: name taken\nYour name?\nerror: invalid name\nYour name?\n");
    CHECK(a.session.takes_input());
    a.say("alice2\nfirst line\n");
    names.answer(true);
    CHECK(a.heard() == "You are alice2\nalice2: first line\n");
    CHECK(o.heard() == "alice2 has arrived\nalice2: first line\n");
    a.session.input_ended(LeaveReason::eof);
    REQUIRE(names.released.size() == 1);  // the name goes back with its holder
    CHECK(names.released[0] == 3);
}

TEST_CASE("a session gone while its claim is unanswered cancels it")
{
    HeldNames names;
    World w(&names);
    w.config.room.names = true;
    {
        Participant a(w, "A:1");
        a.session.start();
        a.say("alice\n");
        CHECK(names.asked.size() == 1);
    }
    CHECK(names.asked.empty());
    CHECK(names.released.empty());
}

TEST_CASE("commands: /who, /me, /nick, /help, //, unknown ones and /quit")
{
    World w;
    w.config.room.names = true;
    w.config.room.commands = true;
    Participant a(w, "A:1"), b(w, "B:2");
    a.session.start();
    a.say("alice\n");
    b.session.start();
    b.say("bob\n");
    a.heard();
    b.heard();
    a.say("/who\n/me waves\n//slash\n/nick\n/bogus x\n");
    CHECK(a.heard() == "Present (2): alice, bob\n* alice waves\nalice: /slash\nerror: usage: /nick NAME\n"
                       "error: unknown command /bogus (try /help)\n");
    CHECK(b.heard() == "* alice waves\nalice: /slash\n");
    a.say("/nick bob\n/nick b c\n/nick carol\nhi\n");
    CHECK(a.heard() == "error: name taken\nerror: invalid name\nalice is now carol\ncarol: hi\n");
    CHECK(b.heard() == "alice is now carol\ncarol: hi\n");
    a.say("/help\n");
    CHECK(a.heard() == command_help);
    a.say("/quit\nnot said\n");
    CHECK(a.left);
    CHECK(b.heard() == "carol has left\n");
    CHECK(w.stats.leaves[static_cast<size_t>(LeaveReason::quit)] == 1);
}

TEST_CASE("flood control in lines: over the burst the rest waits for the bucket, and nothing is lost")
{
    World w;
    w.config.flood.lines_per_second = 10;
    w.config.flood.lines_burst = 3;
    Participant a(w, "A:1"), b(w, "B:2");
    a.session.start();
    b.session.start();
    b.heard();
    a.say("1\n2\n3\n4\n5\n");
    CHECK(b.heard() == "A:1: 1\nA:1: 2\nA:1: 3\n");
    REQUIRE(a.pauses.size() == 1);
    CHECK(a.pauses[0] == doctest::Approx(0.1));
    CHECK(!a.session.takes_input());
    CHECK(w.logged().find("A:1 throttled: over the flood limit") != std::string::npos);
    w.clock.t += 0.25;  // two and a half lines earned
    a.session.pause_over();
    CHECK(b.heard() == "A:1: 4\nA:1: 5\n");
    CHECK(a.pauses.size() == 2);  // half a line left in the bucket: the next waits again
}

TEST_CASE("flood control: a run of pauses ends only when no input waits; a sender that never lets up is put out")
{
    World w;
    w.config.flood.lines_per_second = 1;
    w.config.flood.lines_burst = 1;
    w.config.flood.disconnect_after = 5;
    Participant a(w, "A:1"), b(w, "B:2");
    a.session.start();
    b.session.start();
    b.heard();
    a.say("1\n");
    REQUIRE(a.pauses.size() == 1);
    w.clock.t += 1;
    a.session.pause_over();  // nothing more waiting: this run is over
    a.say("2\n");            // a new run: logged again
    size_t logged = 0;
    for (std::string log = w.logged(); log.find("throttled") != std::string::npos; log.erase(0, log.find("throttled") + 1))
        logged++;
    CHECK(logged == 2);
    for (int i = 3; i < 12 && !a.left; i++) {
        w.clock.t += 1;
        a.waiting = true;  // more keeps coming
        a.session.pause_over();
        a.say(std::to_string(i) + "\n");
    }
    CHECK(a.left);
    CHECK(a.heard().find("error: flood limit exceeded\n") != std::string::npos);
    CHECK(w.stats.leaves[static_cast<size_t>(LeaveReason::flood)] == 1);
    CHECK(w.logged().find("A:1 disconnected: flooding for") != std::string::npos);
}

TEST_CASE("flood control in bytes: a read is no larger than the bucket")
{
    World w;
    w.config.flood.bytes_per_second = 100;
    w.config.flood.bytes_burst = 50;
    Participant a(w, "A:1");
    a.session.start();
    CHECK(a.session.read_allowance(65536) == 50);
    a.say(std::string(49, 'x') + "\n");
    CHECK(a.session.read_allowance(65536) == 1);  // at least one byte, so EOF is seen
    REQUIRE(a.pauses.size() == 1);
    CHECK(a.pauses[0] == doctest::Approx(0.01));
    w.clock.t += 0.2;
    a.session.pause_over();
    CHECK(a.session.read_allowance(65536) == 20);
}

TEST_CASE("a session the server closes hears nothing more; alone, nobody is told")
{
    World w;
    Participant a(w, "A:1"), b(w, "B:2");
    a.session.start();
    b.session.start();
    a.heard();
    b.heard();
    a.session.shutdown();
    b.say("after\n");
    CHECK(a.heard().empty());
    CHECK(b.heard() == "B:2: after\n");
    CHECK(!a.session.talking());
    CHECK(w.stats.leaves[static_cast<size_t>(LeaveReason::eof)] == 0);
}
