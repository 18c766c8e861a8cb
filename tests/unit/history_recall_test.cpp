// History recall: a cluster node's history read back from the stream — newest first in,
// oldest first out, within the history's bounds, a batch sent twice taken once; and the
// stream ID before another, where reading back goes on.
#include "history_recall.h"

#include "stream_ledger.h"

#include <doctest/doctest.h>
#include <string>
#include <vector>

namespace {

std::string batch(std::initializer_list<RoomEvent> events)
{
    std::string out;
    for (const RoomEvent& e : events)
        append_event(out, e);
    return out;
}

std::vector<std::string> lines_of(const HistoryRecall& r)
{
    std::vector<std::string> out;
    r.each_oldest_first([&](const RoomEvent& e) {
        out.push_back(e.kind == RoomEvent::Kind::line ? std::string(e.name) + ": " + std::string(e.text)
                                                      : "* " + std::string(e.name) + " " + std::string(e.text));
    });
    return out;
}

using K = RoomEvent::Kind;

}  // namespace

TEST_CASE("entries read backwards give the lines said, oldest first, and nothing else")
{
    HistoryRecall r(10, 1 << 20);
    r.entry("n2", 5, batch({{K::line, "b", "three"}, {K::leave, "c", ""}, {K::emote, "b", "waves"}}));
    r.entry("n1", 1, batch({{K::arrival, "a", ""}, {K::line, "a", "one"}, {K::rename, "a", "z"}, {K::line, "z", "two"}}));
    CHECK(!r.full());
    CHECK(lines_of(r) == std::vector<std::string>{"a: one", "z: two", "b: three", "* b waves"});
}

TEST_CASE("reading back stops at the history's lines or bytes, keeping the newest")
{
    HistoryRecall by_lines(2, 1 << 20);
    by_lines.entry("n", 3, batch({{K::line, "a", "3"}, {K::line, "a", "4"}}));
    by_lines.entry("n", 1, batch({{K::line, "a", "1"}, {K::line, "a", "2"}}));
    CHECK(by_lines.full());
    CHECK(lines_of(by_lines) == std::vector<std::string>{"a: 3", "a: 4"});

    HistoryRecall by_bytes(100, 10);  // "a: 1234\n" is 8 bytes
    by_bytes.entry("n", 2, batch({{K::line, "a", "5678"}}));
    CHECK(!by_bytes.full());
    by_bytes.entry("n", 1, batch({{K::line, "a", "1234"}}));
    CHECK(by_bytes.full());
    by_bytes.entry("n", 0, batch({{K::line, "a", "older"}}));
    CHECK(lines_of(by_bytes) == std::vector<std::string>{"a: 1234", "a: 5678"});
}

TEST_CASE("a batch in the stream twice is taken once")
{
    HistoryRecall r(10, 1 << 20);
    std::string b = batch({{K::line, "a", "once"}});
    r.entry("n", 7, b);
    r.entry("n", 7, b);
    r.entry("m", 7, batch({{K::line, "c", "other node"}}));
    CHECK(lines_of(r) == std::vector<std::string>{"c: other node", "a: once"});
}

TEST_CASE("a malformed batch gives the events before the damage")
{
    HistoryRecall r(10, 1 << 20);
    std::string b = batch({{K::line, "a", "fine"}});
    b += "m\x05";
    r.entry("n", 1, b);
    CHECK(lines_of(r) == std::vector<std::string>{"a: fine"});
}

TEST_CASE("the stream ID before another")
{
    CHECK(StreamLedger::previous_id("5-3") == "5-2");
    CHECK(StreamLedger::previous_id("5-0") == "4-18446744073709551615");
    CHECK(StreamLedger::previous_id("0-1") == "0-0");
    CHECK(StreamLedger::previous_id("0-0") == "");
    CHECK(StreamLedger::previous_id("") == "");
}
