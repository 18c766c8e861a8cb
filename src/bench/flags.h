// Flags: the generator's "--name value" / "--name=value" options.
// Owned by main, which lends them to the scenario it makes.
#pragma once

#include <map>
#include <set>
#include <string>

namespace bench {

// Each scenario asks for the flags it knows, with a default and a range; a flag nobody
// asked for is an error.
class Flags {
public:
    // Takes argv[first..argc); false with err on an argument that is not a flag. A flag
    // followed by another flag (or by nothing) is a switch, of value "".
    bool parse(int argc, char** argv, int first, std::string& err);

    long integer(const std::string& name, long def, long lo, long hi);
    double number(const std::string& name, double def, double lo, double hi);
    std::string text(const std::string& name, const std::string& def);
    // A switch: true if given bare (or =1, =true, =yes), false if absent (or =0, =false, =no).
    bool on(const std::string& name);

    // The first problem met: a value out of range or not a number, or (once every
    // reader has asked) a flag that no one asked for. "" if none.
    std::string error() const;

private:
    const std::string* find(const std::string& name);

    std::map<std::string, std::string> values_;
    std::set<std::string> asked_;
    std::string error_;
};

}  // namespace bench
