// Stream ledger: the verdicts of a resumed link and of each entry read.
#include "stream_ledger.h"

#include <cstdint>
#include <cstdio>

std::pair<uint64_t, uint64_t> StreamLedger::parse_id(const std::string& id)
{
    unsigned long long ms = 0, seq = 0;
    if (sscanf(id.c_str(), "%llu-%llu", &ms, &seq) != 2)
        return {0, 0};
    return {ms, seq};
}

std::string StreamLedger::previous_id(const std::string& id)
{
    auto [ms, seq] = parse_id(id);
    if (ms == 0 && seq == 0)
        return "";
    if (seq == 0)
        return std::to_string(ms - 1) + "-" + std::to_string(UINT64_MAX);
    return std::to_string(ms) + "-" + std::to_string(seq - 1);
}

// The stream tells which case it is. Entries after ours deleted: trimmed before this node
// read them. Ours gone while nothing at or after it was deleted, or the stream's end
// before ours: a stream other than the one read, whose entries up to this node's start
// are from before its time (an older copy may hold them), and the rest new to it.
StreamLedger::Resume StreamLedger::resume(const StreamState& s)
{
    if (last_id_.empty()) {
        last_id_ = s.last_generated;
        joined_ = parse_id(last_id_);
        return Resume::first_contact;
    }
    auto at = parse_id(last_id_);
    bool said_deleted = !s.max_deleted.empty();
    auto deleted = parse_id(s.max_deleted);
    bool went_back = parse_id(s.last_generated) < at ||
                     (!s.first_entry.empty() && said_deleted && at < parse_id(s.first_entry) && deleted < at);
    if (went_back) {
        char id[48];
        snprintf(id, sizeof id, "%llu-%llu", static_cast<unsigned long long>(joined_.first),
                 static_cast<unsigned long long>(joined_.second));
        last_id_ = id;
        return Resume::went_back;
    }
    return said_deleted && at < deleted ? Resume::trimmed : Resume::intact;
}

StreamLedger::Verdict StreamLedger::next(const std::string& id, const std::string& origin, uint64_t first)
{
    last_id_ = id;
    Verdict v;
    auto it = applied_.find(origin);
    if (it == applied_.end())
        return v;  // an origin first heard of now: nothing of it can have been missed
    if (first <= it->second)
        v.apply = false;
    else
        v.lost = first - it->second - 1;
    return v;
}
