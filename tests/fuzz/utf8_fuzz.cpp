// libFuzzer target: the UTF-8 repair on arbitrary bytes. What it gives is always
// well-formed; well-formed input comes back unchanged; and repair is idempotent.
#include "utf8.h"

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    std::string in(reinterpret_cast<const char*>(data), size), once, twice;
    append_utf8_repaired(once, in);
    append_utf8_repaired(twice, once);
    if (!is_utf8(once) || twice != once || (is_utf8(in) && once != in))
        __builtin_trap();
    return 0;
}
