-- A room event in the batch encoding of room_event.cpp: its kind byte, then the name and
-- the text, each after its length as 4 bytes little-endian. Prepended to each script that
-- writes events; tests/unit/lua_test.cpp holds it to the C++ encoding, both ways.
local function u32(x)
  return string.char(x % 256, math.floor(x / 256) % 256, math.floor(x / 65536) % 256,
    math.floor(x / 16777216) % 256)
end
local function encode_event(kind, name, text)
  return kind .. u32(#name) .. name .. u32(#text) .. text
end
