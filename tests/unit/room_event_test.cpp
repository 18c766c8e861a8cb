// Room events: the batch encoding in which they cross between nodes.
#include "room_event.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {

std::vector<std::string> decode(std::string_view batch, bool& malformed)
{
    std::vector<std::string> out;
    RoomEvent e;
    while (next_event(batch, e, malformed))
        out.push_back(std::string(1, static_cast<char>(e.kind)) + "|" + std::string(e.name) + "|" +
                      std::string(e.text));
    return out;
}

}  // namespace

TEST_CASE("a batch of events decodes to what was encoded, any bytes included")
{
    std::string batch;
    std::string binary("a\0b\xff\r", 5);
    append_event(batch, {RoomEvent::Kind::arrival, "127.0.0.1:5000", ""});
    append_event(batch, {RoomEvent::Kind::line, "127.0.0.1:5000", binary});
    append_event(batch, {RoomEvent::Kind::rename, "old", "new"});
    append_event(batch, {RoomEvent::Kind::leave, "127.0.0.1:5000", ""});
    bool malformed = true;
    CHECK(decode(batch, malformed) == std::vector<std::string>{"a|127.0.0.1:5000|", "m|127.0.0.1:5000|" + binary,
                                                                "r|old|new", "l|127.0.0.1:5000|"});
    CHECK(!malformed);
}

TEST_CASE("bytes that are not events end the batch as malformed")
{
    std::string batch;
    append_event(batch, {RoomEvent::Kind::line, "A", "hello"});
    bool malformed = false;
    SUBCASE("truncated")
    {
        CHECK(decode(std::string_view(batch).substr(0, batch.size() - 1), malformed).empty());
        CHECK(malformed);
    }
    SUBCASE("unknown kind")
    {
        std::string bad = batch;
        bad[0] = 'x';
        CHECK(decode(bad, malformed).empty());
        CHECK(malformed);
    }
    SUBCASE("a length past the end")
    {
        std::string bad = batch;
        bad[1] = '\x7f';
        CHECK(decode(bad, malformed).empty());
        CHECK(malformed);
    }
    SUBCASE("good events before bad bytes are kept")
    {
        std::string both = batch + "zz";
        CHECK(decode(both, malformed) == std::vector<std::string>{"m|A|hello"});
        CHECK(malformed);
    }
}
