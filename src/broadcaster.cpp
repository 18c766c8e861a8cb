// Broadcaster: the protocol's lines, appended once to the room's log for every reader.
#include "broadcaster.h"

#include <algorithm>
#include <cassert>

void Broadcaster::arrive(Member& m)
{
    assert(!m.in_room && !m.cursor.open);
    log_.append({m.name, " has arrived\n"});
    deliveries_ += size_;
    m.cursor = log_.open_at_end();
    m.stop = Member::no_stop;
    m.in_room = true;
    m.prev = last_;
    m.next = nullptr;
    (last_ ? last_->next : first_) = &m;
    last_ = &m;
    size_++;
    if (names_valid_)
        names_.append(names_.empty() ? "" : ", ").append(m.name);
}

void Broadcaster::say(const Member& m, std::string_view text)
{
    assert(m.in_room);
    log_.append({m.name, ": ", text, "\n"});
    lines_said_++;
    deliveries_ += size_;
}

void Broadcaster::emote(const Member& m, std::string_view action)
{
    assert(m.in_room);
    log_.append({"* ", m.name, " ", action, "\n"});
    lines_said_++;
    deliveries_ += size_;
}

void Broadcaster::rename(Member& m, std::string_view name)
{
    assert(m.in_room);
    log_.append({m.name, " is now ", name, "\n"});
    deliveries_ += size_;
    m.name = name;
    names_valid_ = false;
}

void Broadcaster::leave(Member& m)
{
    silence(m);
    log_.append({m.name, " has left\n"});
    deliveries_ += size_;
}

void Broadcaster::silence(Member& m)
{
    assert(m.in_room);
    m.stop = log_.end();
    m.in_room = false;
    unlink(m);
    size_--;
}

void Broadcaster::unlink(Member& m)
{
    (m.prev ? m.prev->next : first_) = m.next;
    (m.next ? m.next->prev : last_) = m.prev;
    m.prev = m.next = nullptr;
    names_valid_ = false;
}

void Broadcaster::release(Member& m)
{
    if (m.in_room)
        silence(m);
    log_.close(m.cursor);
}

bool Broadcaster::has_member_named(std::string_view name) const
{
    for (const Member* m = first_; m; m = m->next)
        if (m->name == name)
            return true;
    return false;
}

std::string Broadcaster::roster(size_t max_line)
{
    if (!names_valid_) {
        names_.clear();
        for (const Member* m = first_; m; m = m->next)
            names_.append(m == first_ ? "" : ", ").append(m->name);
        names_valid_ = true;
    }
    std::string line = "Present (" + std::to_string(size_) + "):";
    if (size_ == 0)
        return line + "\n";
    if (line.size() + 1 + names_.size() + 1 <= max_line)
        return line + " " + names_ + "\n";
    // Too long for a reader's line limit: as many whole names as fit, then the count left.
    size_t room = max_line - std::min(max_line, line.size() + 1 + 32);
    size_t cut = names_.rfind(", ", room);
    size_t shown = cut == std::string::npos ? 0 : 1 + std::count(names_.begin(), names_.begin() + cut, ',');
    if (shown > 0)
        line += " " + names_.substr(0, cut) + ",";
    return line + " ... (" + std::to_string(size_ - shown) + " more)\n";
}

uint64_t Broadcaster::backlog(const Member& m) const
{
    if (!m.cursor.open)
        return 0;
    return std::min(m.stop, log_.end()) - m.cursor.pos;
}
