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
// that form.
void Broadcaster::append(std::initializer_list<std::string_view> line)
{
    log_.append(line);
    if (encoded_readers_ == 0)
        return;
    scratch_.clear();
    encoding_->encode(scratch_, line);
    encoded_->append({scratch_});
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
    names_valid_ = false;
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

void Broadcaster::apply(const RoomEvent& e, Member* arriving)
{
    using K = RoomEvent::Kind;
    switch (e.kind) {
    case K::arrival:
        append({e.name, " has arrived\n"});
        deliveries_ += size_;
        if (arriving)
            admit(*arriving);
        return;
    case K::leave:
        append({e.name, " has left\n"});
        break;
    case K::line:
        append({e.name, ": ", e.text, "\n"});
        lines_said_++;
        break;
    case K::emote:
        append({"* ", e.name, " ", e.text, "\n"});
        lines_said_++;
        break;
    case K::rename:
        append({e.name, " is now ", e.text, "\n"});
        break;
    }
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
        encoded_readers_++;
    }
    m.reader.open(m.reader.encoded() ? *encoded_ : log_);
    m.in_room = true;
    members_.push_back(m);
    size_++;
    if (names_valid_)
        names_.append(names_.empty() ? "" : ", ").append(m.name);
}

void Broadcaster::silence(Member& m)
{
    assert(m.in_room);
    m.reader.stop();
    if (m.reader.encoded())
        encoded_readers_--;
    m.in_room = false;
    members_.remove(m);
    names_valid_ = false;
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

std::string Broadcaster::roster(size_t max_line)
{
    if (!names_valid_) {
        names_.clear();
        members_.each([&](const Member& m) { names_.append(names_.empty() ? "" : ", ").append(m.name); });
        names_valid_ = true;
    }
    std::string line = "Present (" + std::to_string(size_) + "):";
    if (size_ == 0)
        return line + "\n";
    if (line.size() + 1 + names_.size() + 1 <= max_line)
        return line + " " + names_ + "\n";
    // Too long for a reader's line limit: as many whole names as fit with the count of
    // the rest after them. Config validation keeps max_line large enough for the count alone.
    size_t shown = 0, cut = 0;
    for (size_t next; (next = names_.find(", ", cut + (shown ? 2 : 0))) != std::string::npos; cut = next, shown++) {
        size_t ending = 7 + std::to_string(size_ - shown - 1).size() + 7;  // ", ... (" K " more)\n"
        if (line.size() + 1 + next + ending > max_line)
            break;
    }
    if (shown == 0)
        return line + " ... (" + std::to_string(size_) + " more)\n";
    return line + " " + names_.substr(0, cut) + ", ... (" + std::to_string(size_ - shown) + " more)\n";
}
