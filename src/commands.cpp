// Commands: parsing slash commands and checking names.
#include "commands.h"

const char command_help[] =
    "/who          who is in the room\n"
    "/nick NAME    take another name\n"
    "/me ACTION    say \"* NAME ACTION\"\n"
    "/quit         leave the room\n"
    "/help         this list\n"
    "//text        say \"/text\"\n";

Command parse_command(std::string_view line)
{
    Command c;
    if (line.empty() || line[0] != '/') {
        c.arg = line;
        return c;
    }
    if (line.size() > 1 && line[1] == '/') {
        c.arg = line.substr(1);
        return c;
    }
    size_t space = line.find(' ');
    std::string_view word = line.substr(0, space);
    std::string_view arg = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    if (word == "/who")
        c.kind = Command::Kind::who;
    else if (word == "/quit")
        c.kind = Command::Kind::quit;
    else if (word == "/help")
        c.kind = Command::Kind::help;
    else if (word == "/nick" || word == "/me")
        c.kind = arg.empty() ? Command::Kind::usage : word == "/me" ? Command::Kind::me : Command::Kind::nick;
    else
        c.kind = Command::Kind::unknown;
    c.arg = c.kind == Command::Kind::usage || c.kind == Command::Kind::unknown ? word : arg;
    return c;
}

bool is_valid_name(std::string_view name)
{
    if (name.empty() || name.size() > 32)
        return false;
    for (char ch : name) {
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '_' || ch == '-' || ch == '.';
        if (!ok)
            return false;
    }
    return true;
}
