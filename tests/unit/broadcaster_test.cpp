// Broadcaster: the protocol's rules about who hears what, without sockets, alone and
// through a relay (the global order of a cluster).
#include "broadcaster.h"
#include "held_relay.h"
#include "named_member.h"

#include <doctest/doctest.h>
#include <string>
#include <vector>

namespace {
// Receives everything pending for m, as a client's writer would.
std::string receive(Broadcaster&, Member& m)
{
    iovec iov[64];
    size_t n = m.reader.fill(iov, 64);
    std::string out;
    for (size_t i = 0; i < n; i++)
        out.append(static_cast<char*>(iov[i].iov_base), iov[i].iov_len);
    m.reader.consume(out.size());
    CHECK(m.reader.pending() == 0);
    return out;
}

}  // namespace

TEST_CASE("the seed's session")
{
    Broadcaster room;
    Named a("A"), b("B"), c("C");
    room.arrive(a);
    CHECK(receive(room, a).empty());  // no one hears their own arrival
    room.arrive(b);
    CHECK(receive(room, a) == "B has arrived\n");
    room.say(a, "Hi!");
    room.say(b, "Hi yourself.");
    CHECK(receive(room, a) == "A: Hi!\nB: Hi yourself.\n");
    CHECK(receive(room, b) == "A: Hi!\nB: Hi yourself.\n");
    room.leave(a);
    CHECK(receive(room, a).empty());  // the leaver does not hear its leave
    CHECK(receive(room, b) == "A has left\n");
    room.release(a);
    room.arrive(c);
    room.say(b, "Welcome.");
    CHECK(receive(room, b) == "C has arrived\nB: Welcome.\n");
    CHECK(receive(room, c) == "B: Welcome.\n");
    room.leave(b);
    CHECK(receive(room, c) == "B has left\n");
    CHECK(room.size() == 1);
    room.release(b);
    room.release(c);
    CHECK(room.size() == 0);
}

TEST_CASE("a leaver still receives what was said before it left, and nothing after")
{
    Broadcaster room;
    Named a("A"), b("B");
    room.arrive(a);
    room.arrive(b);
    room.say(b, "one");
    room.leave(a);
    room.say(b, "two");
    CHECK(a.reader.backlog() == std::string("B has arrived\nB: one\n").size());
    CHECK(receive(room, a) == "B has arrived\nB: one\n");
    CHECK(receive(room, b) == "B: one\nA has left\nB: two\n");
    room.release(a);
    room.release(b);
}

TEST_CASE("closing alone ends a member's share without telling the others")
{
    Broadcaster room;
    Named a("A"), b("B");
    room.arrive(a);
    room.arrive(b);
    room.close(a);
    room.say(b, "bye");
    CHECK(receive(room, a) == "B has arrived\n");
    CHECK(receive(room, b) == "B: bye\n");
    room.release(a);
    room.release(b);
}

TEST_CASE("everyone hears lines in one global order")
{
    Broadcaster room;
    Named m[3] = {Named("X"), Named("Y"), Named("Z")};
    for (Named& x : m)
        room.arrive(x);
    receive(room, m[0]);
    receive(room, m[1]);
    for (int i = 0; i < 100; i++)
        room.say(m[i % 3], std::to_string(i));
    std::string first = receive(room, m[0]);
    CHECK(receive(room, m[1]) == first);
    CHECK(receive(room, m[2]) == first);
    for (Named& x : m)
        room.release(x);
}

TEST_CASE("through a relay, events apply when handed back, and an arrival admits only then")
{
    Broadcaster room;
    HeldRelay relay;
    room.set_relay(&relay);
    Named a("A"), b("B");
    room.arrive(a);
    CHECK(!a.in_room);
    CHECK(room.present(a));
    relay.deliver(room);
    CHECK(a.in_room);
    room.arrive(b);
    room.say(a, "while B is on its way");
    relay.deliver(room);
    CHECK(receive(room, a) == "B has arrived\nA: while B is on its way\n");
    CHECK(receive(room, b) == "A: while B is on its way\n");  // everything after its arrival
    room.leave(a);
    room.leave(b);
    relay.deliver(room);
    CHECK(receive(room, a).empty());  // it left before its leave came back: it hears nothing more
    CHECK(receive(room, b).empty());
    room.release(a);
    room.release(b);
    room.set_relay(nullptr);
}

TEST_CASE("through a relay, a member that leaves before its arrival came back is heard to arrive and leave")
{
    Broadcaster room;
    HeldRelay relay;
    room.set_relay(&relay);
    Named observer("O"), ghost("G");
    room.arrive(observer);
    relay.deliver(room);
    room.arrive(ghost);
    room.leave(ghost);
    CHECK(!room.present(ghost));
    relay.deliver(room);
    CHECK(!ghost.in_room);  // its arrival admitted nobody
    CHECK(receive(room, observer) == "G has arrived\nG has left\n");
    CHECK(room.size() == 1);
    room.release(ghost);
    room.release(observer);
    room.set_relay(nullptr);
}

TEST_CASE("through a relay, a member released while present leaves: the other nodes must hear it")
{
    Broadcaster room;
    HeldRelay relay;
    room.set_relay(&relay);
    Named a("A");
    room.arrive(a);
    relay.deliver(room);
    room.release(a);
    REQUIRE(relay.held.size() == 1);
    CHECK(relay.held[0].kind == RoomEvent::Kind::leave);
    relay.held.clear();
    room.set_relay(nullptr);
}
