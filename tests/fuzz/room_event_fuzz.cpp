// libFuzzer target: the batch decoder of room_event on arbitrary bytes, as a corrupt or
// hostile stream entry would hold them. It must never crash or read past the entry; every
// event it yields lies inside the entry; and what it yields, encoded again, is the entry's
// prefix it consumed (the encoding has one form).
#include "room_event.h"

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    std::unique_ptr<char[]> exact(new char[size]);  // its exact size: ASan sees over-reads
    memcpy(exact.get(), data, size);
    std::string_view entry(exact.get(), size), rest = entry;
    std::string again;
    RoomEvent e;
    bool malformed = false;
    while (next_event(rest, e, malformed)) {
        for (std::string_view field : {e.name, e.text})
            if (field.data() < entry.data() || field.data() + field.size() > entry.data() + entry.size())
                __builtin_trap();
        append_event(again, e);
    }
    if (!malformed && !rest.empty())
        __builtin_trap();  // an end that is neither the entry's nor an error
    size_t consumed = malformed ? again.size() : entry.size();
    if (again.size() != consumed || memcmp(again.data(), entry.data(), consumed) != 0)
        __builtin_trap();
    return 0;
}
