// History recall: one entry's lines, newest first, within the history's bounds.
#include "history_recall.h"

void HistoryRecall::entry(std::string_view origin, uint64_t first, std::string_view events)
{
    if (full() || !batches_.emplace(std::string(origin), first).second)
        return;
    std::vector<RoomEvent> said;
    RoomEvent e;
    bool malformed = false;
    while (next_event(events, e, malformed))
        if (e.kind == RoomEvent::Kind::line || e.kind == RoomEvent::Kind::emote)
            said.push_back(e);
    for (auto it = said.rbegin(); it != said.rend() && !full(); ++it) {
        // As said: "NAME: text\n", or "* NAME text\n".
        bytes_ += it->name.size() + it->text.size() + (it->kind == RoomEvent::Kind::line ? 3 : 4);
        said_.push_back({it->kind, std::string(it->name), std::string(it->text)});
    }
}
