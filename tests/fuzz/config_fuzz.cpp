// libFuzzer target: the config loader on arbitrary text. It must never crash, every
// error must carry a position, and an accepted config must be consistent.
#include "config.h"

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    std::string text(reinterpret_cast<const char*>(data), size);
    Config c;
    std::string err = parse_config(text, "fuzz.toml", c);
    if (!err.empty()) {
        if (err.rfind("fuzz.toml:", 0) != 0)
            __builtin_trap();
        return 0;
    }
    if (c.listen.empty() || c.output_soft_limit > c.output_hard_limit ||
        c.output_hard_limit < c.max_line_bytes + 64 || c.max_line_bytes < 2 || c.backlog < 1)
        __builtin_trap();
    return 0;
}
