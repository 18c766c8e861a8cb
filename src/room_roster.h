// Room roster: everyone in the room, on every node, in order of arrival, and the
// "Present (N): ..." line made from it. Pure; owned by the broadcaster.
#pragma once

#include <cstddef>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

// A member is its node's origin ("" on a single node) and its name: unique in the room,
// though two nodes may see one ADDR. The list of names is kept as the roster's text and
// extended on each arrival, so an arrival costs O(1); a leave or a rename makes it stale,
// and the next line() builds it again, once, for every reader after it.
class RoomRoster {
public:
    // Each is a no-op for a member it cannot apply to (an arrival of one already present,
    // a leave or a rename of one absent): so a node that loaded the room from Redis can
    // meet again, harmlessly, events the load already held.
    void arrive(std::string_view origin, std::string_view name);
    void leave(std::string_view origin, std::string_view name);
    void rename(std::string_view origin, std::string_view from, std::string_view to);
    // origin's members are exactly names, in this order (its census): those it no longer
    // has go, those it has kept keep their place, the others arrive in order.
    void census(std::string_view origin, const std::vector<std::string_view>& names);
    void clear();

    size_t size() const { return members_.size(); }
    // "Present (N): a, b, c\n", in order of arrival, at most max_line bytes: beyond that the
    // list ends with "... (K more)". Validation keeps max_line large enough for the count.
    std::string line(size_t max_line);

private:
    struct Entry {
        std::string origin;
        std::string name;
    };
    using Entries = std::list<Entry>;

    static std::string key(std::string_view origin, std::string_view name);

    Entries members_;
    std::unordered_map<std::string, Entries::iterator> index_;  // by key(origin, name)
    std::string text_;  // "a, b, c": the list, kept while it is valid
    bool text_valid_ = true;
};
