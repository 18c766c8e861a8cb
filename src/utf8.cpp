// UTF-8: one decoder step, shared by the check and the repair.
#include "utf8.h"

#include <cstdint>

namespace {

// The length of the well-formed sequence at the start of s, or 0 if it is ill-formed;
// for an ill-formed one, *bad is the length of its maximal subpart (at least 1).
size_t sequence(std::string_view s, size_t* bad)
{
    auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
    uint8_t b0 = byte(0);
    *bad = 1;
    if (b0 < 0x80)
        return 1;
    size_t need;
    uint8_t lo = 0x80, hi = 0xbf;  // the second byte's range, narrowed where the first asks
    if (b0 >= 0xc2 && b0 <= 0xdf) {
        need = 2;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
        need = 3;
        if (b0 == 0xe0)
            lo = 0xa0;  // no overlongs
        if (b0 == 0xed)
            hi = 0x9f;  // no surrogates
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
        need = 4;
        if (b0 == 0xf0)
            lo = 0x90;
        if (b0 == 0xf4)
            hi = 0x8f;  // nothing above U+10FFFF
    } else {
        return 0;
    }
    for (size_t i = 1; i < need; i++) {
        uint8_t min = i == 1 ? lo : 0x80, max = i == 1 ? hi : 0xbf;
        if (i >= s.size() || byte(i) < min || byte(i) > max) {
            *bad = i;
            return 0;
        }
    }
    return need;
}

}  // namespace

bool is_utf8(std::string_view s)
{
    size_t bad;
    for (size_t i = 0; i < s.size();) {
        size_t n = sequence(s.substr(i), &bad);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

void append_utf8_repaired(std::string& out, std::string_view s)
{
    size_t bad, from = 0;
    for (size_t i = 0; i < s.size();) {
        size_t n = sequence(s.substr(i), &bad);
        if (n > 0) {
            i += n;
            continue;
        }
        out.append(s.substr(from, i - from)).append("\xef\xbf\xbd");
        i += bad;
        from = i;
    }
    out.append(s.substr(from));
}
