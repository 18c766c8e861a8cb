// Room roster: the whole room's members in order of arrival, and the roster line.
#include "room_roster.h"

#include <unordered_set>

// Names cannot hold '\n' (nor can an ADDR), so the key is unambiguous.
std::string RoomRoster::key(std::string_view origin, std::string_view name)
{
    std::string k;
    k.reserve(origin.size() + 1 + name.size());
    return k.append(origin).append(1, '\n').append(name);
}

void RoomRoster::arrive(std::string_view origin, std::string_view name)
{
    auto [it, fresh] = index_.try_emplace(key(origin, name));
    if (!fresh)
        return;
    it->second = members_.insert(members_.end(), {std::string(origin), std::string(name)});
    if (text_valid_)
        text_.append(text_.empty() ? "" : ", ").append(name);
}

void RoomRoster::leave(std::string_view origin, std::string_view name)
{
    auto it = index_.find(key(origin, name));
    if (it == index_.end())
        return;
    members_.erase(it->second);
    index_.erase(it);
    text_valid_ = false;
}

void RoomRoster::rename(std::string_view origin, std::string_view from, std::string_view to)
{
    auto it = index_.find(key(origin, from));
    if (it == index_.end() || index_.count(key(origin, to)))
        return;
    Entries::iterator entry = it->second;
    index_.erase(it);
    entry->name = to;
    index_.emplace(key(origin, to), entry);
    text_valid_ = false;
}

void RoomRoster::census(std::string_view origin, const std::vector<std::string_view>& names)
{
    std::unordered_set<std::string_view> kept(names.begin(), names.end());
    for (auto it = members_.begin(); it != members_.end();) {
        auto next = std::next(it);
        if (it->origin == origin && !kept.count(it->name))
            leave(origin, std::string(it->name));
        it = next;
    }
    for (std::string_view name : names)
        arrive(origin, name);
}

void RoomRoster::clear()
{
    members_.clear();
    index_.clear();
    text_.clear();
    text_valid_ = true;
}

std::string RoomRoster::line(size_t max_line)
{
    if (!text_valid_) {
        text_.clear();
        for (const Entry& e : members_)
            text_.append(text_.empty() ? "" : ", ").append(e.name);
        text_valid_ = true;
    }
    size_t n = members_.size();
    std::string line = "Present (" + std::to_string(n) + "):";
    if (n == 0)
        return line + "\n";
    if (line.size() + 1 + text_.size() + 1 <= max_line)
        return line + " " + text_ + "\n";
    // Too long for a reader's line limit: as many whole names as fit with the count of
    // the rest after them.
    size_t shown = 0, cut = 0;
    for (size_t next; (next = text_.find(", ", cut + (shown ? 2 : 0))) != std::string::npos; cut = next, shown++) {
        size_t ending = 7 + std::to_string(n - shown - 1).size() + 7;  // ", ... (" K " more)\n"
        if (line.size() + 1 + next + ending > max_line)
            break;
    }
    if (shown == 0)
        return line + " ... (" + std::to_string(n) + " more)\n";
    return line + " " + text_.substr(0, cut) + ", ... (" + std::to_string(n - shown) + " more)\n";
}
