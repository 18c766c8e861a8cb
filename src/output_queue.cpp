// Output queue: interleaving private lines with the member's share of the room's log.
#include "output_queue.h"

#include <algorithm>

uint64_t OutputQueue::pending(const Broadcaster& room, const Member& m) const
{
    uint64_t n = room.backlog(m);
    for (const Line& line : lines_)
        n += line.text.size();
    return n;
}

size_t OutputQueue::fill(const RoomLog& log, const Member& m, iovec* iov, size_t max_iov) const
{
    uint64_t pos = position(m);
    size_t used = 0;
    size_t i = 0;
    for (; i < lines_.size() && lines_[i].at <= pos && used < max_iov; i++)
        iov[used++] = {const_cast<char*>(lines_[i].text.data()), lines_[i].text.size()};
    bool next_waits = i == lines_.size() || lines_[i].at > pos;
    if (m.cursor.open && next_waits && used < max_iov) {
        uint64_t until = std::min(m.stop, i < lines_.size() ? lines_[i].at : UINT64_MAX);
        used += log.fill(m.cursor, until, iov + used, max_iov - used);
    }
    return used;
}

void OutputQueue::consume(RoomLog& log, Member& m, size_t n)
{
    uint64_t pos = position(m);
    size_t done = 0;
    while (done < lines_.size() && lines_[done].at <= pos && n > 0) {
        std::string& text = lines_[done].text;
        size_t k = std::min(n, text.size());
        n -= k;
        if (k < text.size()) {
            text.erase(0, k);
            break;
        }
        done++;
    }
    lines_.erase(lines_.begin(), lines_.begin() + done);
    if (lines_.empty() && lines_.capacity() > 4)
        std::vector<Line>().swap(lines_);
    if (n > 0)
        log.advance(m.cursor, n);
}

RoomLog::Skipped OutputQueue::drop_backlog(RoomLog& log, Member& m)
{
    std::string unfinished;
    RoomLog::Skipped skipped = log.skip_to_end(m.cursor, unfinished);
    if (!unfinished.empty())
        lines_.insert(lines_.begin(), Line{0, std::move(unfinished)});
    return skipped;
}
