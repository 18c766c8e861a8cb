// Room event: something that happens in the room (arrival, line, leave...), and the
// compact encoding in which a batch of them crosses between nodes. Pure; owned by whoever holds it.
#pragma once

#include <string>
#include <string_view>

struct RoomEvent {
    enum class Kind : char { arrival = 'a', leave = 'l', line = 'm', emote = 'e', rename = 'r' };
    Kind kind;
    std::string_view name;  // who
    std::string_view text;  // line, emote: what; rename: the new name
};

// A batch is the events one after another, each as its kind byte, then the name and the
// text, each prefixed by its length as 4 bytes little-endian: binary-safe (a line may hold
// any byte but '\n') and cheap to walk.
void append_event(std::string& batch, const RoomEvent& e);

// Takes the next event off the front of rest. Returns false at the end of the batch, and
// also for bytes that are not a well-formed event (malformed is set then, and rest emptied).
bool next_event(std::string_view& rest, RoomEvent& out, bool& malformed);
