// Room history: trimming by lines and bytes, lending in place (a newcomer's history ends
// where it was lent, whatever is said or trimmed after), the encoded twin, and a reader's
// greeting, history and room lines in order, through the drop skip too.
#include "room_history.h"

#include "broadcaster.h"

#include <doctest/doctest.h>
#include <string>
#include <vector>

namespace {

// Writes everything a reader is owed in pieces of at most `piece` bytes, as a slow socket
// would, with at most 3 iovecs a write.
std::string drain(RoomLog::Reader& r, size_t piece = 1000)
{
    std::string out;
    while (r.pending() > 0) {
        iovec iov[3];
        size_t n = r.fill(iov, 3);
        REQUIRE(n > 0);
        size_t take = 0;
        for (size_t i = 0; i < n && take < piece; i++) {
            size_t k = std::min(iov[i].iov_len, piece - take);
            out.append(static_cast<char*>(iov[i].iov_base), k);
            take += k;
        }
        r.consume(take);
    }
    return out;
}

void say(RoomHistory& h, const std::string& line)
{
    h.add({line}, {});
}

// Encodes a line as "[line without its \n]", records of a known length (their first byte).
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

// What a reader receives of records of that encoding, as "[a][b]".
std::string unframed(const std::string& records)
{
    std::string out;
    for (size_t at = 0; at < records.size(); at += static_cast<unsigned char>(records[at]))
        out.append(records, at + 1, static_cast<unsigned char>(records[at]) - 1);
    return out;
}

}  // namespace

TEST_CASE("history keeps the last N lines")
{
    RoomHistory h;
    h.set_limits(3, 1 << 20);
    for (int i = 0; i < 10; i++)
        say(h, "line " + std::to_string(i) + "\n");
    CHECK(h.lines() == 3);
    CHECK(h.bytes() == 21);
    RoomLog::Reader r;
    CHECK(h.lend(r) == 3);
    r.greet("hello\n");
    CHECK(drain(r) == "hello\nline 7\nline 8\nline 9\n");
}

TEST_CASE("history keeps at most its bytes, the oldest going first, and no line longer than them")
{
    RoomHistory h;
    h.set_limits(100, 20);
    say(h, "aaaaaaaaa\n");  // 10 bytes
    say(h, "bbbbbbbbb\n");
    CHECK(h.lines() == 2);
    say(h, "ccccc\n");
    CHECK(h.lines() == 2);
    CHECK(h.bytes() == 16);
    say(h, std::string(30, 'x') + "\n");
    CHECK(h.lines() == 0);
    CHECK(h.bytes() == 0);
    say(h, "d\n");
    RoomLog::Reader r;
    CHECK(h.lend(r) == 1);
    r.greet("");
    CHECK(drain(r) == "d\n");
}

TEST_CASE("lowering the limits trims at once; a reader lent the history keeps what it was lent")
{
    RoomHistory h;
    h.set_limits(1000, 1 << 20);
    std::string all;
    for (int i = 0; i < 5000; i++) {  // several chunks
        std::string line = "line " + std::to_string(i) + "\n";
        say(h, line);
        if (i >= 4000)
            all += line;
    }
    RoomLog::Reader r;
    CHECK(h.lend(r) == 1000);
    r.greet("History (1000):\n");
    for (int i = 0; i < 30000; i++)
        say(h, "later " + std::to_string(i) + "\n");
    h.set_limits(2, 1 << 20);
    CHECK(h.lines() == 2);
    size_t held = h.bytes_held();  // the reader holds the chunks from its first line on
    CHECK(held > 4 * 65536);
    CHECK(drain(r, 777) == "History (1000):\n" + all);
    // Once the reader is done, the trimmed chunks go.
    say(h, "one more\n");
    CHECK(h.bytes_held() <= 2 * 65536);
    RoomLog::Reader late;
    CHECK(h.lend(late) == 2);
    late.greet("");
    CHECK(drain(late) == "later 29999\none more\n");
}

TEST_CASE("an empty history lends nothing, and the greeting alone is owed")
{
    RoomHistory h;
    h.set_limits(10, 100);
    RoomLog::Reader r;
    CHECK(h.lend(r) == 0);
    r.greet("History (0):\n");
    CHECK(drain(r) == "History (0):\n");
}

TEST_CASE("the encoded twin: made from what is kept when first wanted, kept while wanted")
{
    RoomHistory h;
    Brackets brackets;
    h.set_limits(3, 1 << 20);
    for (int i = 0; i < 5; i++)
        say(h, "l" + std::to_string(i) + "\n");
    h.keep_encoded(brackets);
    CHECK(h.encoded_kept());
    std::string framed;
    brackets.encode(framed, {"l5\n"});
    h.add({"l5\n"}, framed);
    RoomLog::Reader web;
    web.set_encoded(true);
    CHECK(h.lend(web) == 3);
    web.greet("");
    CHECK(unframed(drain(web)) == "[l3][l4][l5]");
    h.drop_encoded();
    say(h, "l6\n");
    say(h, "l7\n");
    h.keep_encoded(brackets);  // made again from the plain lines
    RoomLog::Reader again;
    again.set_encoded(true);
    CHECK(h.lend(again) == 3);
    again.greet("");
    CHECK(unframed(drain(again)) == "[l5][l6][l7]");
}

TEST_CASE("a reader receives its greeting, the history lent, then the room, whatever it is sent meanwhile")
{
    RoomHistory h;
    h.set_limits(10, 1 << 20);
    say(h, "A: old\n");
    RoomLog log(64);
    RoomLog::Reader r;
    r.push("Your name?\n", 0);
    r.open(log);
    CHECK(h.lend(r) == 1);
    r.greet("You are B\nHistory (1):\n");
    r.push("reply\n", r.here());
    log.append({"A: new\n"});
    CHECK(r.pending() == std::string("Your name?\nYou are B\nHistory (1):\nA: old\nreply\nA: new\n").size());
    CHECK(drain(r, 5) == "Your name?\nYou are B\nHistory (1):\nA: old\nreply\nA: new\n");
    r.close();
}

TEST_CASE("a reader that stops before its greeting never gets the history lent")
{
    RoomHistory h;
    h.set_limits(10, 1 << 20);
    say(h, "A: old\n");
    RoomLog log(64);
    RoomLog::Reader r;
    r.open(log);
    h.lend(r);
    r.stop();
    CHECK(r.pending() == 0);
    r.close();
}

TEST_CASE("the drop skip takes the history lent too, except the line begun, which is finished first")
{
    RoomHistory h;
    h.set_limits(10, 1 << 20);
    for (int i = 0; i < 4; i++)
        say(h, "old " + std::to_string(i) + "\n");
    RoomLog log(64);
    RoomLog::Reader r;
    r.open(log);
    h.lend(r);
    r.greet("hi\n");
    log.append({"new 0\n"});
    log.append({"new 1\n"});
    iovec iov[8];
    r.fill(iov, 8);
    r.consume(3 + 8);  // "hi\n", then "old 0\n" and "ol"
    RoomLog::Skipped s = r.skip_backlog();
    CHECK(s.lines == 2 + 2);  // old 2, old 3; new 0, new 1 (old 1 is finished)
    CHECK(s.bytes == 12 + 12);
    r.push("notice\n", r.here());
    log.append({"new 2\n"});
    CHECK(drain(r) == "d 1\nnotice\nnew 2\n");
    r.close();
}
