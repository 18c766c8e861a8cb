// History recall: what was said in a cluster's room before this node joined it, gathered
// from the room's stream read backwards, for the node's history. Owned by the stream
// relay while it reads; pure (entries in, lines out).
#pragma once

#include "room_event.h"

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// Entries come newest first (XREVRANGE); their chat lines and /me are taken newest first
// until the history would be full, and handed over oldest first, as they were said. A
// batch that is in the stream twice (sent again after a lost answer, and applied once by
// every node) is taken once.
class HistoryRecall {
public:
    // The history's bounds: enough lines, or enough bytes of them as said.
    HistoryRecall(size_t max_lines, size_t max_bytes) : max_lines_(max_lines), max_bytes_(max_bytes) {}

    // The next entry back: origin's batch of events (the batch encoding) numbered from first.
    void entry(std::string_view origin, uint64_t first, std::string_view events);
    // Nothing older is wanted.
    bool full() const { return said_.size() >= max_lines_ || bytes_ >= max_bytes_; }
    // Calls f(const RoomEvent&) for each line gathered, oldest first.
    template <class F>
    void each_oldest_first(F&& f) const
    {
        for (auto it = said_.rbegin(); it != said_.rend(); ++it)
            f(RoomEvent{it->kind, it->name, it->text});
    }
    size_t lines() const { return said_.size(); }

private:
    struct Said {
        RoomEvent::Kind kind;
        std::string name, text;
    };

    size_t max_lines_, max_bytes_;
    std::vector<Said> said_;  // newest first
    size_t bytes_ = 0;
    std::set<std::pair<std::string, uint64_t>> batches_;  // (origin, first) of those taken
};
