// Broadcaster: the room's history and presence rules without sockets — what a newcomer is
// lent, alone and through a relay's global order; arrivals and leaves said each, in a
// summary, or not at all; history recalled from before; and the encoded form of both.
#include "broadcaster.h"
#include "held_relay.h"
#include "named_member.h"

#include <doctest/doctest.h>
#include <string>
#include <vector>

namespace {

// Everything pending for m, as a client's writer would take it.
std::string receive(Member& m)
{
    std::string out;
    while (m.reader.pending() > 0) {
        iovec iov[16];
        size_t n = m.reader.fill(iov, 16);
        REQUIRE(n > 0);
        size_t before = out.size();
        for (size_t i = 0; i < n; i++)
            out.append(static_cast<char*>(iov[i].iov_base), iov[i].iov_len);
        m.reader.consume(out.size() - before);
    }
    return out;
}

// A newcomer as a session greets it: "You are", then "History (K):" if any was lent.
void arrive_greeted(Broadcaster& room, Member& m)
{
    room.arrive(m);
    if (m.in_room)
        m.reader.greet("You are " + m.name + "\n" +
                       (m.history ? "History (" + std::to_string(*m.history) + "):\n" : ""));
}

RoomConfig room_config(size_t history, Presence presence = Presence::each)
{
    RoomConfig c;
    c.history = history;
    c.presence = presence;
    return c;
}

// "[line]" records whose first byte is their length.
struct Brackets final : LineEncoding {
    void encode(std::string& out, std::initializer_list<std::string_view> line) override
    {
        std::string text;
        for (std::string_view part : line)
            text.append(part);
        text.pop_back();
        out.push_back(static_cast<char>(text.size() + 3));
        out.append("[").append(text).append("]");
    }
    RoomLog::RecordSize record_size() const override
    {
        return [](const char* p) { return static_cast<size_t>(static_cast<unsigned char>(*p)); };
    }
};

}  // namespace

TEST_CASE("a newcomer is lent the last lines said, not arrivals, leaves or renames, then hears the room")
{
    Broadcaster room;
    room.configure(room_config(2), 65536);
    Named a("A"), b("B"), c("C");
    arrive_greeted(room, a);
    CHECK(a.history == 0u);
    CHECK(receive(a) == "You are A\nHistory (0):\n");
    room.say(a, "one");
    room.emote(a, "waves");
    room.rename(a, "Z");
    room.say(a, "two");
    arrive_greeted(room, b);
    room.leave(b);
    arrive_greeted(room, c);
    room.say(a, "three");
    CHECK(c.history == 2u);
    CHECK(receive(c) == "You are C\nHistory (2):\n* A waves\nZ: two\nZ: three\n");
    room.release(a);
    room.release(b);
    room.release(c);
}

TEST_CASE("through a relay, the history lent ends where the newcomer's arrival is in the order")
{
    Broadcaster room;
    HeldRelay relay;
    room.set_relay(&relay);
    room.configure(room_config(10), 65536);
    Named a("A"), b("B");
    room.arrive(a);
    relay.deliver(room);
    room.say(a, "before");
    room.arrive(b);
    room.say(a, "after");  // published after B's arrival: live for B
    relay.deliver(room);
    REQUIRE(b.in_room);
    b.reader.greet("You are B\nHistory (" + std::to_string(*b.history) + "):\n");
    CHECK(receive(b) == "You are B\nHistory (1):\nA: before\nA: after\n");
    room.release(a);
    room.release(b);
    room.set_relay(nullptr);
}

TEST_CASE("lines recalled from before go to the history and to nobody")
{
    Broadcaster room;
    room.configure(room_config(10), 65536);
    room.recall({RoomEvent::Kind::line, "X", "earlier"});
    room.recall({RoomEvent::Kind::arrival, "Y", ""});
    room.recall({RoomEvent::Kind::emote, "X", "left a note"});
    CHECK(room.log().end() == 0);
    CHECK(room.lines_said() == 0);
    Named a("A");
    arrive_greeted(room, a);
    CHECK(receive(a) == "You are A\nHistory (2):\nX: earlier\n* X left a note\n");
    room.release(a);
}

TEST_CASE("presence none: the room hears no arrivals or leaves, and the roster is exact")
{
    Broadcaster room;
    room.configure(room_config(0, Presence::none), 65536);
    Named a("A"), b("B");
    arrive_greeted(room, a);
    arrive_greeted(room, b);
    room.say(b, "hi");
    CHECK(receive(a) == "You are A\nB: hi\n");
    CHECK(room.roster(1000) == "Present (2): A, B\n");
    room.leave(b);
    room.say(a, "bye");
    CHECK(receive(a) == "A: bye\n");
    CHECK(room.roster(1000) == "Present (1): A\n");
    CHECK(!room.presence_waiting());
    room.release(a);
    room.release(b);
}

TEST_CASE("presence summary: arrivals and leaves wait, then are said as one line to everyone in the room")
{
    Broadcaster room;
    room.configure(room_config(0, Presence::summary), 65536);
    Named a("A"), b("B"), c("C");
    arrive_greeted(room, a);
    arrive_greeted(room, b);
    CHECK(room.presence_waiting());
    CHECK(room.roster(1000) == "Present (2): A, B\n");
    room.say(a, "hello");
    room.say_presence();
    CHECK(!room.presence_waiting());
    CHECK(receive(a) == "You are A\nA: hello\n+2 arrived: A, B\n");
    CHECK(receive(b) == "You are B\nA: hello\n+2 arrived: A, B\n");
    room.leave(b);
    arrive_greeted(room, c);
    room.say_presence();
    CHECK(receive(a) == "+1 arrived: C; -1 left: B\n");  // arrivals first, whatever the order
    room.release(a);
    room.release(b);
    room.release(c);
}

TEST_CASE("a summary pending when presence leaves summary is said at once")
{
    Broadcaster room;
    room.configure(room_config(0, Presence::summary), 65536);
    Named a("A"), b("B");
    arrive_greeted(room, a);
    receive(a);
    arrive_greeted(room, b);
    uint64_t deliveries = room.deliveries();
    room.configure(room_config(0, Presence::each), 65536);
    CHECK(receive(a) == "+2 arrived: A, B\n");
    CHECK(room.deliveries() == deliveries + 2);
    room.leave(b);
    CHECK(receive(a) == "B has left\n");
    room.release(a);
    room.release(b);
}

TEST_CASE("readers of the encoded form are lent the history encoded, made once for all of them")
{
    Broadcaster room;
    Brackets brackets;
    room.set_encoding(&brackets);
    room.configure(room_config(5), 65536);
    Named tcp("T");
    arrive_greeted(room, tcp);
    room.say(tcp, "plain one");
    Named web("W");
    web.reader.set_encoded(true);
    arrive_greeted(room, web);  // the first encoded reader: the history is encoded now
    room.say(tcp, "plain two");
    Named web2("V");
    web2.reader.set_encoded(true);
    arrive_greeted(room, web2);
    std::string got = receive(web2);
    CHECK(got.rfind("You are V\nHistory (2):\n", 0) == 0);
    CHECK(got.find("[T: plain one]") != std::string::npos);
    CHECK(got.find("[T: plain two]") != std::string::npos);
    room.release(web);
    room.release(web2);
    room.release(tcp);
}
