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
    const ClientConfig& cl = c.client;
    if (c.server.listen.empty() || cl.output_soft_limit > cl.output_hard_limit ||
        cl.output_hard_limit < cl.max_line_bytes + 64 || cl.max_line_bytes < 2 || c.server.backlog < 1 ||
        (c.cluster.enabled() && c.cluster.lease < 3 * c.cluster.timeout + 10))
        __builtin_trap();
    // Whatever it accepted, a reload of the same text is no change.
    if (!restart_only_changes(c, c).empty())
        __builtin_trap();
    return 0;
}
