// libFuzzer target: the line framer against a straightforward model of bufio.ScanLines,
// with the input cut into reads at places the fuzzer chooses.
#include "framer.h"

#include <cassert>
#include <cstdint>
#include <string>
#include <vector>

namespace {

struct Outcome {
    std::vector<std::string> lines;
    bool too_long = false;
};

// The model: the whole input at once, in the plainest terms.
Outcome model(const std::string& in, size_t max)
{
    Outcome out;
    size_t start = 0;
    for (;;) {
        size_t nl = in.find('\n', start);
        size_t len = (nl == std::string::npos ? in.size() : nl) - start;
        if (nl == std::string::npos ? len >= max : len + 1 > max) {
            out.too_long = true;
            return out;
        }
        if (nl == std::string::npos) {
            if (len > 0) {
                std::string last = in.substr(start);
                if (last.back() == '\r')
                    last.pop_back();
                out.lines.push_back(last);
            }
            return out;
        }
        std::string line = in.substr(start, len);
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        out.lines.push_back(line);
        start = nl + 1;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size < 2)
        return 0;
    size_t max = 2 + data[0] % 64;  // small limits reach the edge cases
    uint8_t cut_seed = data[1];
    std::string in(reinterpret_cast<const char*>(data + 2), size - 2);

    Outcome want = model(in, max);
    Outcome got;
    LineFramer framer(max);
    auto collect = [&](std::string_view line) {
        got.lines.emplace_back(line);
        return true;
    };
    size_t pos = 0;
    while (pos < in.size() && !got.too_long) {
        size_t piece = 1 + (cut_seed + pos * 7) % 13;
        piece = std::min(piece, in.size() - pos);
        if (framer.feed(in.data() + pos, piece, collect) == LineFramer::Status::too_long)
            got.too_long = true;
        assert(framer.pending() < max);
        pos += piece;
    }
    if (!got.too_long)
        framer.finish(collect);
    if (got.too_long != want.too_long || got.lines.size() > want.lines.size())
        __builtin_trap();
    // Lines delivered before a too-long one are the model's first lines.
    for (size_t i = 0; i < got.lines.size(); i++)
        if (got.lines[i] != want.lines[i])
            __builtin_trap();
    if (!want.too_long && got.lines.size() != want.lines.size())
        __builtin_trap();
    return 0;
}
