// Broadcaster: the protocol's rules about who hears what, without sockets.
#include "broadcaster.h"

#include <doctest/doctest.h>
#include <string>

namespace {
// Receives everything pending for m, as a client's writer would.
std::string receive(Broadcaster& room, Member& m)
{
    iovec iov[64];
    size_t n = room.log().fill(m.cursor, m.stop, iov, 64);
    std::string out;
    for (size_t i = 0; i < n; i++)
        out.append(static_cast<char*>(iov[i].iov_base), iov[i].iov_len);
    room.log().advance(m.cursor, out.size());
    CHECK(room.backlog(m) == 0);
    return out;
}

Member named(const char* name)
{
    Member m;
    m.name = name;
    return m;
}
}  // namespace

TEST_CASE("the seed's session")
{
    Broadcaster room;
    Member a = named("A"), b = named("B"), c = named("C");
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
    Member a = named("A"), b = named("B");
    room.arrive(a);
    room.arrive(b);
    room.say(b, "one");
    room.leave(a);
    room.say(b, "two");
    CHECK(room.backlog(a) == std::string("B has arrived\nB: one\n").size());
    CHECK(receive(room, a) == "B has arrived\nB: one\n");
    CHECK(receive(room, b) == "B: one\nA has left\nB: two\n");
    room.release(a);
    room.release(b);
}

TEST_CASE("silence ends a member's share without telling the others")
{
    Broadcaster room;
    Member a = named("A"), b = named("B");
    room.arrive(a);
    room.arrive(b);
    room.silence(a);
    room.say(b, "bye");
    CHECK(receive(room, a) == "B has arrived\n");
    CHECK(receive(room, b) == "B: bye\n");
    room.release(a);
    room.release(b);
}

TEST_CASE("everyone hears lines in one global order")
{
    Broadcaster room;
    Member m[3] = {named("X"), named("Y"), named("Z")};
    for (Member& x : m)
        room.arrive(x);
    receive(room, m[0]);
    receive(room, m[1]);
    for (int i = 0; i < 100; i++)
        room.say(m[i % 3], std::to_string(i));
    std::string first = receive(room, m[0]);
    CHECK(receive(room, m[1]) == first);
    CHECK(receive(room, m[2]) == first);
    for (Member& x : m)
        room.release(x);
}
