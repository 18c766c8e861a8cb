// Room roster: the whole room in order of arrival, keyed by node and name; and the roster a
// newcomer gets through a relay, which is the room just before its arrival in the order.
#include "broadcaster.h"
#include "held_relay.h"
#include "named_member.h"
#include "room_roster.h"

#include <doctest/doctest.h>
#include <string>
#include <vector>

TEST_CASE("the roster follows arrivals, leaves and renames of members of several nodes")
{
    RoomRoster r;
    CHECK(r.line(100) == "Present (0):\n");
    r.arrive("A", "alice");
    r.arrive("B", "bob");
    r.arrive("A", "carol");
    CHECK(r.line(100) == "Present (3): alice, bob, carol\n");
    // One ADDR seen by two nodes is two members; a leave takes the one of its node.
    r.arrive("B", "alice");
    r.leave("A", "alice");
    CHECK(r.line(100) == "Present (3): bob, carol, alice\n");
    r.rename("A", "carol", "dave");  // keeps its place
    CHECK(r.line(100) == "Present (3): bob, dave, alice\n");
    r.arrive("C", "erin");  // appended to the list built again
    CHECK(r.line(100) == "Present (4): bob, dave, alice, erin\n");
    CHECK(r.size() == 4);
}

TEST_CASE("events the roster cannot apply change nothing: what a load from Redis already held")
{
    RoomRoster r;
    r.arrive("A", "alice");
    r.arrive("A", "alice");
    r.leave("B", "alice");        // not B's
    r.rename("A", "bob", "bo");   // no bob
    r.arrive("A", "carol");
    r.rename("A", "alice", "carol");  // carol is there
    CHECK(r.line(100) == "Present (2): alice, carol\n");
    r.clear();
    CHECK(r.line(100) == "Present (0):\n");
    r.arrive("A", "x");
    CHECK(r.line(100) == "Present (1): x\n");
}

TEST_CASE("a node's census: those it no longer has go, those kept keep their place, new ones arrive")
{
    RoomRoster r;
    r.arrive("A", "a1");
    r.arrive("B", "b1");
    r.arrive("A", "a2");
    r.arrive("A", "a3");
    r.census("A", {"a3", "a4", "a1"});
    CHECK(r.line(100) == "Present (4): a1, b1, a3, a4\n");
    r.census("B", {});
    CHECK(r.line(100) == "Present (3): a1, a3, a4\n");
}

TEST_CASE("a roster longer than the line limit lists what fits and counts the rest")
{
    RoomRoster r;
    for (int i = 0; i < 2000; i++)
        r.arrive(i % 2 ? "A" : "B", "member" + std::to_string(i));
    std::string line = r.line(1024);
    CHECK(line.size() <= 1024);
    CHECK(line.rfind("Present (2000): member0, member1, ", 0) == 0);
    size_t shown = 0;
    for (size_t at = line.find(", "); at != std::string::npos; at = line.find(", ", at + 2))
        shown++;
    size_t more = std::stoul(line.substr(line.find("... (") + 5));
    CHECK(shown + more == 2000);  // the ", " before "..." ends the last name shown
    CHECK(line.substr(line.size() - 7) == " more)\n");
}

TEST_CASE("through a relay a newcomer's roster is the whole room just before its arrival")
{
    Broadcaster room;
    HeldRelay stream;
    room.set_relay(&stream);
    RoomConfig config;
    config.roster = true;
    room.configure(config, 1000);
    room.whole_room().arrive("there", "far");  // a member of another node
    Named a("A"), b("B");
    room.arrive(a);
    room.arrive(b);
    CHECK(a.roster.empty());  // not before its arrival comes back
    stream.deliver(room, "here");
    CHECK(a.roster == "Present (1): far\n");
    CHECK(b.roster == "Present (2): far, A\n");
    CHECK(room.roster(1000) == "Present (3): far, A, B\n");
    room.rename(a, "Z");
    CHECK(room.roster(1000) == "Present (3): far, A, B\n");  // until the rename is in the order
    stream.deliver(room, "here");
    CHECK(room.roster(1000) == "Present (3): far, Z, B\n");
    // Events a snapshot already counted are heard, and change no roster.
    room.leave(b);
    stream.deliver(room, "here", true);
    CHECK(room.roster(1000) == "Present (3): far, Z, B\n");
    room.release(a);
    room.release(b);
    room.set_relay(nullptr);
}
