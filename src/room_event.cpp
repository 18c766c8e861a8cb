// Room event: the batch encoding.
#include "room_event.h"

#include <cstdint>
#include <cstring>

namespace {

void append_field(std::string& out, std::string_view s)
{
    uint32_t n = static_cast<uint32_t>(s.size());
    char len[4] = {static_cast<char>(n), static_cast<char>(n >> 8), static_cast<char>(n >> 16),
                   static_cast<char>(n >> 24)};
    out.append(len, 4).append(s);
}

bool take_field(std::string_view& rest, std::string_view& out)
{
    if (rest.size() < 4)
        return false;
    const auto* p = reinterpret_cast<const unsigned char*>(rest.data());
    uint32_t n = p[0] | p[1] << 8 | p[2] << 16 | static_cast<uint32_t>(p[3]) << 24;
    if (rest.size() - 4 < n)
        return false;
    out = rest.substr(4, n);
    rest.remove_prefix(4 + n);
    return true;
}

}  // namespace

void append_event(std::string& batch, const RoomEvent& e)
{
    batch.push_back(static_cast<char>(e.kind));
    append_field(batch, e.name);
    append_field(batch, e.text);
}

bool next_event(std::string_view& rest, RoomEvent& out, bool& malformed)
{
    malformed = false;
    if (rest.empty())
        return false;
    char kind = rest[0];
    std::string_view tail = rest.substr(1);
    if (!memchr("almer", kind, 5) || !take_field(tail, out.name) || !take_field(tail, out.text)) {
        malformed = true;
        rest = {};
        return false;
    }
    out.kind = static_cast<RoomEvent::Kind>(kind);
    rest = tail;
    return true;
}
