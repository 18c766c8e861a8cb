// Lua scripts: the one Lua copy of the batch encoding (event.lua) holds to room_event's,
// both ways, under Lua 5.1 (Redis's); and every script compiles.
#include "lua_scripts.h"
#include "room_event.h"

#include <doctest/doctest.h>
#include <lua5.1/lauxlib.h>
#include <lua5.1/lua.h>
#include <lua5.1/lualib.h>
#include <string>
#include <vector>

namespace {

struct Lua {
    Lua()
    {
        luaL_openlibs(L);
        std::string chunk = std::string(lua::event) + "\nreturn encode_event";
        REQUIRE(luaL_loadstring(L, chunk.c_str()) == 0);
        REQUIRE(lua_pcall(L, 0, 1, 0) == 0);
        encoder = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    ~Lua() { lua_close(L); }

    std::string encode(const RoomEvent& e)
    {
        lua_rawgeti(L, LUA_REGISTRYINDEX, encoder);
        char kind = static_cast<char>(e.kind);
        lua_pushlstring(L, &kind, 1);
        lua_pushlstring(L, e.name.data(), e.name.size());
        lua_pushlstring(L, e.text.data(), e.text.size());
        REQUIRE(lua_pcall(L, 3, 1, 0) == 0);
        size_t n = 0;
        const char* s = lua_tolstring(L, -1, &n);
        std::string out(s, n);
        lua_pop(L, 1);
        return out;
    }

    lua_State* L = luaL_newstate();
    int encoder = 0;
};

std::vector<std::string> owned;  // backing for the views of the events below
std::vector<RoomEvent> samples()
{
    owned = {"127.0.0.1:5000", "hello", std::string("\0\xff\r\x01", 4), "[::1]:9", std::string(70000, 'x'),
             "alice", "bob"};
    using K = RoomEvent::Kind;
    return {{K::arrival, owned[0], {}}, {K::line, owned[0], owned[1]}, {K::line, owned[3], owned[2]},
            {K::line, owned[3], owned[4]}, {K::emote, owned[5], owned[1]}, {K::rename, owned[5], owned[6]},
            {K::leave, owned[6], {}},    {K::line, owned[5], {}}};
}

}  // namespace

TEST_CASE("what event.lua encodes is what room_event encodes, and decodes back")
{
    Lua lua;
    std::string from_lua, from_cpp;
    std::vector<RoomEvent> events = samples();
    for (const RoomEvent& e : events) {
        std::string one;
        append_event(one, e);
        CHECK(lua.encode(e) == one);
        from_lua += lua.encode(e);
        append_event(from_cpp, e);
    }
    CHECK(from_lua == from_cpp);
    std::string_view rest = from_lua;
    RoomEvent got;
    bool malformed = false;
    for (const RoomEvent& e : events) {
        REQUIRE(next_event(rest, got, malformed));
        CHECK(got.kind == e.kind);
        CHECK(got.name == e.name);
        CHECK(got.text == e.text);
    }
    CHECK(!next_event(rest, got, malformed));
    CHECK(!malformed);
}

TEST_CASE("every script compiles under Lua 5.1")
{
    lua_State* L = luaL_newstate();
    for (const std::string* script : {&lua::hold, &lua::release, &lua::members, &lua::tick, &lua::snapshot}) {
        int rc = luaL_loadstring(L, script->c_str());
        CHECK_MESSAGE(rc == 0, lua_tostring(L, -1));
        lua_settop(L, 0);
    }
    lua_close(L);
}
