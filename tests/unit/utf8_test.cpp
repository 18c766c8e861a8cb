// UTF-8: what is well-formed, and the repair's replacement of each maximal subpart.
#include "utf8.h"

#include <doctest/doctest.h>
#include <string>

namespace {
std::string repaired(const std::string& s)
{
    std::string out = "<";
    append_utf8_repaired(out, s);
    return out.substr(1);
}
const std::string fffd = "\xef\xbf\xbd";
}  // namespace

TEST_CASE("well-formed text passes unchanged, every byte of it")
{
    for (std::string s : {std::string(""), std::string("plain ASCII\r\t"), std::string("caf\xc3\xa9 \xe2\x98\x95"),
                          std::string("\xf0\x9f\x98\x80 U+10FFFF: \xf4\x8f\xbf\xbf"), std::string("\0nul", 4)}) {
        CHECK(is_utf8(s));
        CHECK(repaired(s) == s);
    }
}

TEST_CASE("ill-formed sequences become U+FFFD, one per maximal subpart")
{
    CHECK(!is_utf8("\xff"));
    CHECK(repaired("a\xff" "b") == "a" + fffd + "b");
    CHECK(repaired("\xc3") == fffd);                        // truncated at the end
    CHECK(repaired("\xe2\x98" "x") == fffd + "x");          // a truncated 3-byte sequence is one subpart
    CHECK(repaired("\xc0\xaf") == fffd + fffd);             // overlong: C0 is never valid, nor a lone AF
    CHECK(repaired("\xe0\x80\xaf") == fffd + fffd + fffd);  // overlong 3-byte
    CHECK(repaired("\xed\xa0\x80") == fffd + fffd + fffd);  // a surrogate
    CHECK(repaired("\xf4\x90\x80\x80") == fffd + fffd + fffd + fffd);  // above U+10FFFF
    CHECK(repaired("\xf0\x9f\x98") == fffd);
    CHECK(is_utf8(repaired("\xfe\xfd\x80\xc3\xc3\xa9")));
    CHECK(repaired("\xfe\xfd\x80\xc3\xc3\xa9") == fffd + fffd + fffd + fffd + "\xc3\xa9");
}
