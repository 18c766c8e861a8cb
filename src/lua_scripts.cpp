// Lua scripts: the texts, from the build's generated lua_scripts.inc (Makefile).
#include "lua_scripts.h"

namespace {
#include "lua_scripts.inc"
}  // namespace

namespace lua {
const char* const event = event_lua;
const std::string hold = hold_lua;
const std::string release = release_lua;
const std::string members = members_lua;
const std::string tick = std::string(event_lua) + tick_lua;
const std::string snapshot = snapshot_lua;
}  // namespace lua
