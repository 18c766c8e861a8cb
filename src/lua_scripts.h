// Lua scripts: the cluster's scripts run in Redis (src/lua/*.lua), built into the binary
// as the default config is. Constants; each script that writes room events starts with
// event.lua, the one Lua copy of the batch encoding (room_event.h).
#pragma once

#include <string>

namespace lua {
extern const char* const event;    // encode_event(kind, name, text): the encoder alone
extern const std::string hold;     // claims and renews names
extern const std::string release;  // gives a name back
extern const std::string members;  // adds a batch and changes the member set with it
extern const std::string tick;     // the lease tick and the sweep of dead nodes
extern const std::string snapshot; // the stream's state and every node's members, at once
}  // namespace lua
