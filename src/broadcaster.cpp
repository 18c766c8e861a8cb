// Broadcaster: the protocol's lines, appended once to the room's log for every reader.
#include "broadcaster.h"

#include <algorithm>
#include <cassert>

void Broadcaster::arrive(Member& m)
{
    assert(!m.in_room && !m.cursor.open);
    log_.append({m.name, " has arrived\n"});
    m.cursor = log_.open_at_end();
    m.stop = Member::no_stop;
    m.in_room = true;
    size_++;
}

void Broadcaster::say(const Member& m, std::string_view text)
{
    assert(m.in_room);
    log_.append({m.name, ": ", text, "\n"});
}

void Broadcaster::leave(Member& m)
{
    silence(m);
    log_.append({m.name, " has left\n"});
}

void Broadcaster::silence(Member& m)
{
    assert(m.in_room);
    m.stop = log_.end();
    m.in_room = false;
    size_--;
}

void Broadcaster::release(Member& m)
{
    if (m.in_room)
        silence(m);
    log_.close(m.cursor);
}

uint64_t Broadcaster::backlog(const Member& m) const
{
    if (!m.cursor.open)
        return 0;
    return std::min(m.stop, log_.end()) - m.cursor.pos;
}
