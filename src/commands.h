// Commands: what a line starting with '/' asks for when [room] commands is on, and the
// rules for names. Pure parsing; the client carries commands out.
#pragma once

#include <string_view>

struct Command {
    enum class Kind { say, who, nick, me, quit, help, usage, unknown };
    Kind kind = Kind::say;
    std::string_view arg;  // say: the text to say; nick/me: the argument; usage/unknown: the word
};

// "//text" says "/text"; "/who", "/nick NAME", "/me ACTION", "/quit", "/help"; anything
// else starting with '/' is unknown. A line not starting with '/' is said as it is.
Command parse_command(std::string_view line);

// 1 to 32 characters from letters, digits, '_', '-', '.'.
bool is_valid_name(std::string_view name);

// The reply to /help, one line per command.
extern const char command_help[];
