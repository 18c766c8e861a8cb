// Room log: appends, cursors, chunk release and the drop skip; readers with private lines in place.
#include "room_log.h"

#include "named_member.h"

#include <doctest/doctest.h>
#include <algorithm>
#include <string>

namespace {
// Everything c would be sent, up to stop.
std::string read_all(const RoomLog& log, const RoomLog::Cursor& c, uint64_t stop = UINT64_MAX)
{
    iovec iov[64];
    size_t n = log.fill(c, stop, iov, 64);
    std::string out;
    for (size_t i = 0; i < n; i++)
        out.append(static_cast<char*>(iov[i].iov_base), iov[i].iov_len);
    return out;
}

// Writes everything a reader is owed in pieces of at most `chunk` bytes, as a slow socket would.
std::string drain(RoomLog::Reader& q, size_t chunk = 1000)
{
    std::string out;
    while (q.pending() > 0) {
        iovec iov[8];
        size_t n = q.fill(iov, 8);
        REQUIRE(n > 0);
        size_t take = 0;
        for (size_t i = 0; i < n && take < chunk; i++) {
            size_t k = std::min(iov[i].iov_len, chunk - take);
            out.append(static_cast<char*>(iov[i].iov_base), k);
            take += k;
        }
        q.consume(take);
    }
    return out;
}
}  // namespace

TEST_CASE("a cursor opened at the end sees only later lines")
{
    RoomLog log(64);
    log.append({"before\n"});
    RoomLog::Cursor c = log.open_at_end();
    log.append({"a", ": ", "hi", "\n"});
    CHECK(read_all(log, c) == "a: hi\n");
    log.advance(c, 3);
    CHECK(read_all(log, c) == "hi\n");
    log.close(c);
}

TEST_CASE("lines never straddle chunks and chunks are freed behind the last reader")
{
    RoomLog log(16);
    RoomLog::Cursor slow = log.open_at_end();
    RoomLog::Cursor fast = log.open_at_end();
    for (int i = 0; i < 10; i++)
        log.append({"line ", std::to_string(i), "\n"});  // 7 bytes: two per 16-byte chunk
    CHECK(log.chunk_count() == 5);
    std::string all = read_all(log, slow);
    CHECK(all.substr(0, 14) == "line 0\nline 1\n");
    CHECK(all.size() == 70);
    log.advance(fast, 70);
    CHECK(log.chunk_count() == 5);  // slow still holds the first chunk
    log.advance(slow, 14);
    CHECK(log.chunk_count() == 4);
    log.advance(slow, 56);
    CHECK(log.chunk_count() == 1);
    CHECK(read_all(log, slow).empty());
    log.close(slow);
    log.close(fast);
}

TEST_CASE("a line longer than a chunk gets a chunk of its own")
{
    RoomLog log(8);
    RoomLog::Cursor c = log.open_at_end();
    std::string big(100, 'x');
    log.append({big, "\n"});
    log.append({"y\n"});
    CHECK(read_all(log, c) == big + "\ny\n");
    log.advance(c, 101);
    CHECK(read_all(log, c) == "y\n");
    log.close(c);
    CHECK(log.chunk_count() == 1);
}

TEST_CASE("fill stops at a leaver's stop position")
{
    RoomLog log(64);
    RoomLog::Cursor c = log.open_at_end();
    log.append({"mine\n"});
    uint64_t stop = log.end();
    log.append({"not mine\n"});
    CHECK(read_all(log, c, stop) == "mine\n");
    log.close(c);
}

TEST_CASE("skip_to_end keeps the rest of a begun line and counts what it drops")
{
    RoomLog log(16);
    RoomLog::Cursor c = log.open_at_end();
    for (int i = 0; i < 6; i++)
        log.append({"line ", std::to_string(i), "\n"});
    std::string unfinished;
    SUBCASE("at a line boundary")
    {
        RoomLog::Skipped s = log.skip_to_end(c, unfinished);
        CHECK(unfinished.empty());
        CHECK(s.lines == 6);
        CHECK(s.bytes == 42);
    }
    SUBCASE("inside a line")
    {
        log.advance(c, 9);  // "line 0\nli"
        RoomLog::Skipped s = log.skip_to_end(c, unfinished);
        CHECK(unfinished == "ne 1\n");
        CHECK(s.lines == 4);
        CHECK(s.bytes == 28);
    }
    CHECK(c.pos == log.end());
    CHECK(read_all(log, c).empty());
    CHECK(log.chunk_count() == 1);
    log.append({"next\n"});
    CHECK(read_all(log, c) == "next\n");
    log.close(c);
}

TEST_CASE("a log nobody reads keeps one chunk")
{
    RoomLog log(16);
    for (int i = 0; i < 100; i++)
        log.append({"0123456789\n"});
    CHECK(log.chunk_count() == 1);
    CHECK(log.bytes_held() <= 32);
}

TEST_CASE("private lines come out where they were queued, whatever the write sizes")
{
    for (size_t chunk : {1000, 3, 1}) {
        Broadcaster room;
        Named a("A"), b("B");
                a.reader.push("You are A\n", 0);
        room.arrive(a);
        room.arrive(b);
        room.say(b, "one");
        a.reader.push("reply\n", room.log().end());
        room.say(b, "two");
        CHECK(drain(a.reader, chunk) == "You are A\nB has arrived\nB: one\nreply\nB: two\n");
        room.release(a);
        room.release(b);
    }
}

TEST_CASE("a farewell follows the leaver's share of the log")
{
    Broadcaster room;
    Named a("A"), b("B");
        room.arrive(a);
    room.arrive(b);
    room.say(a, "mine");
    room.leave(a);
    a.reader.push("error: bye\n", a.reader.here());
    room.say(b, "not for A");
    CHECK(drain(a.reader, 4) == "B has arrived\nA: mine\nerror: bye\n");
    room.release(a);
    room.release(b);
}

TEST_CASE("a reader the room never opened gets its private lines at once")
{
    Broadcaster room;
    Named a("A");
        a.reader.push("Your name?\n", 0);
    CHECK(a.reader.pending() == 11);
    CHECK(drain(a.reader) == "Your name?\n");
}

TEST_CASE("drop keeps the line begun and the private lines, skips the rest")
{
    Broadcaster room(64);
    Named a("A"), b("B");
        room.arrive(a);
    room.arrive(b);
    for (int i = 0; i < 20; i++)
        room.say(b, "line " + std::to_string(i));
    a.reader.push("note\n", room.log().end());
    iovec iov[8];
    a.reader.fill(iov, 8);
    a.reader.consume(19);  // "B has arrived\nB: li"
    RoomLog::Skipped s = a.reader.skip_backlog();
    CHECK(s.lines == 19);
    CHECK(drain(a.reader) == "ne 0\nnote\n");
    room.say(b, "after");
    CHECK(drain(a.reader) == "B: after\n");
    room.release(a);
    room.release(b);
}
