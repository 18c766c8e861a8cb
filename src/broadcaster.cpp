// Broadcaster: the protocol's lines, appended once to the room's log for every reader.
#include "broadcaster.h"

#include <algorithm>
#include <cassert>

void Broadcaster::happen(const RoomEvent& e, Member* arriving)
{
    if (relay_)
        relay_->publish(e, arriving);
    else
        apply(e, arriving);
}

// Each line is stored once per form: once as it is, and once encoded while anyone reads
// that form; a line said is kept once more in the history, in the same forms.
void Broadcaster::append(std::initializer_list<std::string_view> line, Line how)
{
    bool to_room = how != Line::recalled, to_history = how != Line::heard && history_on_;
    if (to_room) {
        log_.append(line);
        changes_++;
    }
    if (encoded_readers_ > 0) {
        scratch_.clear();
        encoding_->encode(scratch_, line);
        if (to_room)
            encoded_->append({scratch_});
    }
    if (to_history)
        history_->add(line, encoded_readers_ > 0 ? std::string_view(scratch_) : std::string_view());
}

void Broadcaster::configure(const RoomConfig& room, size_t max_line)
{
    if (room.presence != Presence::summary)
        say_presence();
    presence_ = room.presence;
    summary_.set_max_line(max_line);
    roster_on_ = room.roster;
    max_line_ = max_line;
    history_on_ = room.history > 0;
    if (history_on_ && !history_) {
        history_ = std::make_unique<RoomHistory>();
        if (encoded_readers_ > 0)
            history_->keep_encoded(*encoding_);
    }
    if (history_)
        history_->set_limits(room.history, room.history_bytes);
}

void Broadcaster::arrive(Member& m)
{
    assert(!present(m) && !m.reader.is_open());
    m.arriving = true;
    happen({RoomEvent::Kind::arrival, m.name, {}}, &m);
}

void Broadcaster::say(const Member& m, std::string_view text)
{
    assert(m.in_room);
    happen({RoomEvent::Kind::line, m.name, text}, nullptr);
}

void Broadcaster::emote(const Member& m, std::string_view action)
{
    assert(m.in_room);
    happen({RoomEvent::Kind::emote, m.name, action}, nullptr);
}

// The new name holds at once here: the next line m says is already under it.
void Broadcaster::rename(Member& m, std::string_view name)
{
    assert(m.in_room);
    std::string old = std::move(m.name);
    m.name = name;
    happen({RoomEvent::Kind::rename, old, name}, nullptr);
}

// The leaver stops hearing the room here, before its leave is in the order: it never
// hears its own leave.
void Broadcaster::leave(Member& m)
{
    assert(present(m));
    if (m.in_room)
        silence(m);
    if (m.arriving) {
        assert(relay_);  // alone, an arrival applies at once
        m.arriving = false;
        relay_->forget(m);
    }
    happen({RoomEvent::Kind::leave, m.name, {}}, nullptr);
}

void Broadcaster::close(Member& m)
{
    if (relay_)
        leave(m);
    else
        silence(m);
}

void Broadcaster::apply(const RoomEvent& e, Member* arriving, std::string_view origin, bool counted)
{
    using K = RoomEvent::Kind;
    switch (e.kind) {
    case K::arrival:
        announce(e.name, true);
        // The newcomer's roster is the room just before its arrival in the order.
        if (arriving && roster_on_)
            arriving->roster = roster_.line(max_line_);
        if (!counted)
            roster_.arrive(origin, e.name);
        if (arriving)
            admit(*arriving);
        return;
    case K::leave:
        announce(e.name, false);
        if (!counted)
            roster_.leave(origin, e.name);
        return;
    case K::line:
    case K::emote:
        tell(e, Line::said);
        lines_said_++;
        break;
    case K::rename:
        append({e.name, " is now ", e.text, "\n"}, Line::heard);
        if (!counted)
            roster_.rename(origin, e.name, e.text);
        break;
    }
    deliveries_ += size_;
}

// An arrival or a leave, as [room] presence says: a line now, a name in the next summary,
// or nothing.
void Broadcaster::announce(std::string_view name, bool arrived)
{
    switch (presence_) {
    case Presence::each:
        append({name, arrived ? " has arrived\n" : " has left\n"}, Line::heard);
        deliveries_ += size_;
        break;
    case Presence::summary:
        if (arrived)
            summary_.arrived(name);
        else
            summary_.left(name);
        break;
    case Presence::none:
        break;
    }
}

// A chat line or /me, as the room says it.
void Broadcaster::tell(const RoomEvent& e, Line how)
{
    if (e.kind == RoomEvent::Kind::line)
        append({e.name, ": ", e.text, "\n"}, how);
    else
        append({"* ", e.name, " ", e.text, "\n"}, how);
}

void Broadcaster::recall(const RoomEvent& e)
{
    if (history_on_ && (e.kind == RoomEvent::Kind::line || e.kind == RoomEvent::Kind::emote))
        tell(e, Line::recalled);
}

void Broadcaster::say_presence()
{
    if (summary_.empty())
        return;
    std::string line = summary_.take();
    append({line}, Line::heard);
    deliveries_ += size_;
}

void Broadcaster::admit(Member& m)
{
    assert(m.arriving);
    m.arriving = false;
    if (m.reader.encoded()) {
        assert(encoding_);
        if (!encoded_)
            encoded_ = std::make_unique<RoomLog>(64 * 1024, encoding_->record_size());
        if (encoded_readers_++ == 0 && history_)
            history_->keep_encoded(*encoding_);
    }
    m.reader.open(m.reader.encoded() ? *encoded_ : log_);
    // The history as it stands now ends exactly where what m hears of the room begins.
    if (history_on_)
        m.history = history_->lend(m.reader);
    m.in_room = true;
    if (relay_)
        changes_++;  // its greeting waits for the flush pass, whatever presence says
    members_.push_back(m);
    size_++;
}

void Broadcaster::silence(Member& m)
{
    assert(m.in_room);
    m.reader.stop();
    if (m.reader.encoded() && --encoded_readers_ == 0 && history_)
        history_->drop_encoded();
    m.in_room = false;
    members_.remove(m);
    size_--;
}

// A connection that goes without leaving is one the node is closing: its members must
// not linger in the other nodes' rooms.
void Broadcaster::release(Member& m)
{
    if (present(m))
        close(m);
    m.reader.close();
}

bool Broadcaster::has_member_named(std::string_view name) const
{
    for (const Member* m = members_.front(); m; m = members_.next(*m))
        if (m->name == name)
            return true;
    return false;
}
