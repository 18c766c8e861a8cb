// What the config tests share: parsing a text named t.toml, and reading its error.
// Header-only, for the unit tests.
#pragma once

#include "config.h"

#include <string>

// Parses text as t.toml into c; "" or the error "t.toml:LINE:COL: message".
inline std::string parse(const std::string& text, Config& c)
{
    return parse_config(text, "t.toml", c);
}

// The error text gives, "" if it is valid.
inline std::string error_of(const std::string& text)
{
    Config c;
    return parse(text, c);
}

inline bool starts(const std::string& s, const std::string& prefix)
{
    return s.rfind(prefix, 0) == 0;
}
