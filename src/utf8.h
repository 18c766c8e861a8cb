// UTF-8: checking text, and repairing it for readers that require it (WebSocket text
// messages). Pure functions.
#pragma once

#include <string>
#include <string_view>

// Whether s is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool is_utf8(std::string_view s);

// Appends s to out with each ill-formed sequence replaced by U+FFFD, one per maximal
// subpart (the Unicode standard's and WHATWG's practice): a line from a TCP client that
// is not UTF-8 reaches a browser readable, and a valid line unchanged.
void append_utf8_repaired(std::string& out, std::string_view s);
