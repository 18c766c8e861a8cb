// libFuzzer target: the HTTP request head parser on arbitrary bytes, fed as a connection
// would deliver them, in pieces. It must never crash or read past what it was given, its
// verdict on a prefix must be final once given, and a verdict must be a status it may send.
#include "http_request.h"

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

namespace {
constexpr size_t limit = 8 * 1024;

bool known_status(int s)
{
    return s == 0 || s == 400 || s == 405 || s == 414 || s == 431 || s == 505;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = 1 + data[0] % 64;
    std::string in(reinterpret_cast<const char*>(data + 1), std::min(size - 1, limit));
    // A copy in a buffer of its exact size, so that ASan sees any read past the end.
    for (size_t have = std::min(step, in.size());; have = std::min(have + step, in.size())) {
        std::unique_ptr<char[]> exact(new char[have]);
        memcpy(exact.get(), in.data(), have);
        HttpRequest req;
        bool done = parse_http_request(std::string_view(exact.get(), have), limit, req);
        if (done) {
            if (!known_status(req.status))
                __builtin_trap();
            if (req.status == 0 && (req.method != "GET" || req.path.empty() || req.path[0] != '/'))
                __builtin_trap();
            // Final: more bytes do not change it.
            HttpRequest again;
            if (!parse_http_request(in, limit, again) || again.status != req.status)
                __builtin_trap();
            return 0;
        }
        if (have == in.size())
            break;
    }
    return 0;
}
