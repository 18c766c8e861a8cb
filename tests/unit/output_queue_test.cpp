// Output queue: private lines in their place among the room's lines, and partial writes.
#include "output_queue.h"

#include <doctest/doctest.h>
#include <string>

namespace {
// Writes everything owed in pieces of at most `chunk` bytes, as a slow socket would.
std::string drain(OutputQueue& q, Broadcaster& room, Member& m, size_t chunk = 1000)
{
    std::string out;
    while (q.pending(room, m) > 0) {
        iovec iov[8];
        size_t n = q.fill(room.log(), m, iov, 8);
        REQUIRE(n > 0);
        size_t take = 0;
        for (size_t i = 0; i < n && take < chunk; i++) {
            size_t k = std::min(iov[i].iov_len, chunk - take);
            out.append(static_cast<char*>(iov[i].iov_base), k);
            take += k;
        }
        q.consume(room.log(), m, take);
    }
    return out;
}

Member named(const char* name)
{
    Member m;
    m.name = name;
    return m;
}
}  // namespace

TEST_CASE("private lines come out where they were queued, whatever the write sizes")
{
    for (size_t chunk : {1000, 3, 1}) {
        Broadcaster room;
        Member a = named("A"), b = named("B");
        OutputQueue q;
        q.push("You are A\n", 0);
        room.arrive(a);
        room.arrive(b);
        room.say(b, "one");
        q.push("reply\n", room.log().end());
        room.say(b, "two");
        CHECK(drain(q, room, a, chunk) == "You are A\nB has arrived\nB: one\nreply\nB: two\n");
        room.release(a);
        room.release(b);
    }
}

TEST_CASE("a farewell follows the leaver's share of the log")
{
    Broadcaster room;
    Member a = named("A"), b = named("B");
    OutputQueue q;
    room.arrive(a);
    room.arrive(b);
    room.say(a, "mine");
    room.leave(a);
    q.push("error: bye\n", a.stop);
    room.say(b, "not for A");
    CHECK(drain(q, room, a, 4) == "B has arrived\nA: mine\nerror: bye\n");
    room.release(a);
    room.release(b);
}

TEST_CASE("a member without a cursor gets its private lines at once")
{
    Broadcaster room;
    Member a = named("A");
    OutputQueue q;
    q.push("Your name?\n", 0);
    CHECK(q.pending(room, a) == 11);
    CHECK(drain(q, room, a) == "Your name?\n");
}

TEST_CASE("drop keeps the line begun and the private lines, skips the rest")
{
    Broadcaster room(64);
    Member a = named("A"), b = named("B");
    OutputQueue q;
    room.arrive(a);
    room.arrive(b);
    for (int i = 0; i < 20; i++)
        room.say(b, "line " + std::to_string(i));
    q.push("note\n", room.log().end());
    iovec iov[8];
    q.fill(room.log(), a, iov, 8);
    q.consume(room.log(), a, 19);  // "B has arrived\nB: li"
    RoomLog::Skipped s = q.drop_backlog(room.log(), a);
    CHECK(s.lines == 19);
    CHECK(drain(q, room, a) == "ne 0\nnote\n");
    room.say(b, "after");
    CHECK(drain(q, room, a) == "B: after\n");
    room.release(a);
    room.release(b);
}
