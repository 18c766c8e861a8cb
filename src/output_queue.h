// Output queue: everything one client is owed, in order, as iovecs for one writev.
// Owned by the client; pure (iovecs out, written byte counts in).
#pragma once

#include "broadcaster.h"

#include <cstdint>
#include <string>
#include <sys/uio.h>
#include <vector>

// The room's log from the client's cursor to its stop, with the client's private lines
// (its greeting, replies, a farewell error) placed between where they were queued.
class OutputQueue {
public:
    // text goes out once the member has received the room's log up to `at` (a line
    // boundary; 0 for "at once").
    void push(std::string text, uint64_t at) { lines_.push_back({at, std::move(text)}); }

    // Bytes owed: the private lines and the log from the cursor to the stop.
    uint64_t pending(const Broadcaster& room, const Member& m) const;

    // The next bytes to write, in order; returns the number of iovecs used.
    size_t fill(const RoomLog& log, const Member& m, iovec* iov, size_t max_iov) const;

    // n bytes of what fill() offered have been written.
    void consume(RoomLog& log, Member& m, size_t n);

    // The drop policy: the member skips the rest of the log, except the rest of a line it
    // has begun to receive, and private lines already queued stay.
    RoomLog::Skipped drop_backlog(RoomLog& log, Member& m);

private:
    struct Line {
        uint64_t at;
        std::string text;
    };

    // Where the member is in the log; a member without a cursor is owed only lines.
    static uint64_t position(const Member& m) { return m.cursor.open ? m.cursor.pos : UINT64_MAX; }

    std::vector<Line> lines_;  // by `at`; a vector, not a deque: an idle client has none
};
