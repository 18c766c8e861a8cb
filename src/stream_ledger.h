// Stream ledger: what a node knows of the room's Redis stream, for the cluster link.
// Owned by the cluster link; pure (stream IDs and sequence numbers in, verdicts out).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>

// Where reading goes on, which events of each origin were applied, and what a resumed
// link finds in the stream.
class StreamLedger {
public:
    // The stream as XINFO STREAM describes it at a (re)connect; a missing key is an empty
    // stream. Empty strings: not said (max_deleted before Redis 7) or no entry.
    struct StreamState {
        std::string last_generated = "0-0";
        std::string max_deleted;
        std::string first_entry;
    };

    enum class Resume {
        first_contact,  // reading starts at the stream's end
        intact,         // reading goes on after the last entry read
        trimmed,        // entries after the last one read were trimmed away unread
        went_back,      // not the stream read before (Redis restarted without its data, or
                        // from an older copy): its entries after this node's start are read
    };

    Resume resume(const StreamState& s);
    // The ID to XREAD after.
    const std::string& read_after() const { return last_id_; }

    struct Verdict {
        bool apply = true;  // false: a batch sent again that had landed before
        uint64_t lost = 0;  // events of this origin that went missing just before this batch
    };
    // The next entry read: `id` in the stream, from origin, its events numbered from first.
    Verdict next(const std::string& id, const std::string& origin, uint64_t first);
    // An entry read that no origin's numbers count (a node's census): reading goes on
    // after it.
    void passed(const std::string& id) { last_id_ = id; }
    // origin's events up to seq have been applied.
    void applied(const std::string& origin, uint64_t seq) { applied_[origin] = seq; }
    // origin's events are numbered from 1 (this node's own): a first batch of it that
    // starts later tells that events went missing. Other origins are met mid-stream.
    void expect(const std::string& origin) { applied_.emplace(origin, 0); }
    // origin was taken for dead, and its members' leaves said for it: nothing of it that
    // comes later in the stream applies.
    void bury(const std::string& origin) { applied_[origin] = UINT64_MAX; }
    bool buried(const std::string& origin) const
    {
        auto it = applied_.find(origin);
        return it != applied_.end() && it->second == UINT64_MAX;
    }

    // Stream IDs "MS-SEQ" in their numeric order; "" and malformed ones as 0-0.
    static std::pair<uint64_t, uint64_t> parse_id(const std::string& id);
    // The greatest ID below id ("" below 0-0): where reading backwards goes on, for a Redis
    // that may predate exclusive ranges.
    static std::string previous_id(const std::string& id);

private:
    std::string last_id_;                      // "" before the first contact
    std::pair<uint64_t, uint64_t> joined_{};   // the stream's end at the first contact
    std::unordered_map<std::string, uint64_t> applied_;
};
