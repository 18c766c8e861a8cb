// Stream ledger: where a resumed link reads, and which entries apply, without Redis.
#include "stream_ledger.h"

#include <doctest/doctest.h>

namespace {

using Resume = StreamLedger::Resume;

StreamLedger::StreamState state(const char* last, const char* deleted = "", const char* first = "")
{
    StreamLedger::StreamState s;
    s.last_generated = last;
    s.max_deleted = deleted;
    s.first_entry = first;
    return s;
}

}  // namespace

TEST_CASE("stream IDs compare as numbers")
{
    CHECK(StreamLedger::parse_id("1700000000000-9") < StreamLedger::parse_id("1700000000000-10"));
    CHECK(StreamLedger::parse_id("999-5") < StreamLedger::parse_id("1000-0"));
    CHECK(StreamLedger::parse_id("") == StreamLedger::parse_id("0-0"));
    CHECK(StreamLedger::parse_id("junk") == StreamLedger::parse_id("0-0"));
}

TEST_CASE("the first contact reads from the stream's end; a reconnect goes on where it was")
{
    StreamLedger l;
    CHECK(l.resume(state("100-0", "0-0", "50-0")) == Resume::first_contact);
    CHECK(l.read_after() == "100-0");
    l.next("120-0", "a", 1);
    CHECK(l.resume(state("150-0", "0-0", "50-0")) == Resume::intact);
    CHECK(l.read_after() == "120-0");
    // Only the entry this node read was trimmed: nothing after it was lost.
    CHECK(l.resume(state("150-0", "120-0", "130-0")) == Resume::intact);
    // Without Redis 7's max-deleted-entry-id nothing can be said about trimming.
    CHECK(l.resume(state("150-0", "", "130-0")) == Resume::intact);
}

TEST_CASE("entries after the one read, deleted unread, are a trimmed stream")
{
    StreamLedger l;
    l.resume(state("100-0"));
    l.next("120-0", "a", 1);
    CHECK(l.resume(state("300-0", "200-0", "201-0")) == Resume::trimmed);
    CHECK(l.read_after() == "120-0");
}

TEST_CASE("a stream that went back is read after this node's start, not from its beginning")
{
    StreamLedger l;
    l.resume(state("100-0"));  // this node starts here
    l.next("120-0", "a", 1);
    l.next("130-0", "a", 2);
    SUBCASE("its end is before what was read: restarted empty, or from an older copy")
    {
        CHECK(l.resume(state("110-0", "0-0", "10-0")) == Resume::went_back);
        CHECK(l.read_after() == "100-0");
    }
    SUBCASE("a new stream whose entries are all later, with nothing deleted")
    {
        CHECK(l.resume(state("500-0", "0-0", "400-0")) == Resume::went_back);
        CHECK(l.read_after() == "100-0");
    }
    SUBCASE("a missing key is an empty stream")
    {
        CHECK(l.resume(StreamLedger::StreamState{}) == Resume::went_back);
    }
}

TEST_CASE("a stream first met empty is read from its start")
{
    StreamLedger l;
    CHECK(l.resume(StreamLedger::StreamState{}) == Resume::first_contact);
    CHECK(l.read_after() == "0-0");
    CHECK(l.resume(state("40-0", "0-0", "20-0")) == Resume::intact);
    CHECK(l.read_after() == "0-0");
}

TEST_CASE("a batch sent again after it had landed is not applied twice; a gap is counted")
{
    StreamLedger l;
    l.resume(state("100-0"));
    auto v = l.next("101-0", "b", 7);  // an origin met mid-stream: no gap
    CHECK(v.apply);
    CHECK(v.lost == 0);
    l.applied("b", 9);                 // events 7..9
    v = l.next("102-0", "b", 7);       // the same batch again
    CHECK_FALSE(v.apply);
    v = l.next("103-0", "b", 10);
    CHECK(v.apply);
    CHECK(v.lost == 0);
    l.applied("b", 12);
    v = l.next("104-0", "b", 20);      // 13..19 never came
    CHECK(v.apply);
    CHECK(v.lost == 7);
    CHECK(l.read_after() == "104-0");
}

TEST_CASE("this node's own events are numbered from 1: a first batch of its own that starts later lost some")
{
    StreamLedger l;
    l.expect("me");
    l.resume(state("100-0"));
    auto v = l.next("101-0", "me", 3);
    CHECK(v.apply);
    CHECK(v.lost == 2);
}

TEST_CASE("nothing of a buried origin applies after its burial, whether met before or not")
{
    StreamLedger l;
    l.resume(state("100-0"));
    l.applied("a", 5);
    l.bury("a");
    auto v = l.next("101-0", "a", 6);
    CHECK_FALSE(v.apply);
    CHECK(v.lost == 0);
    l.bury("never-heard");
    CHECK_FALSE(l.next("102-0", "never-heard", 1).apply);
    CHECK(l.next("103-0", "b", 1).apply);  // the others go on
    CHECK(l.read_after() == "103-0");
    CHECK(l.buried("a"));
    CHECK(l.buried("never-heard"));
    CHECK_FALSE(l.buried("b"));
    l.applied("b", 1);
    l.passed("104-0");  // a census: read past, counted in no origin's numbers
    CHECK(l.read_after() == "104-0");
    CHECK(l.next("105-0", "b", 2).lost == 0);
}
