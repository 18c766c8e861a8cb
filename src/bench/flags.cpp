// Flags: parsing "--name value" options and reading them with defaults and ranges.
#include "bench/flags.h"

#include <cstdlib>
#include <string_view>

namespace bench {

bool Flags::parse(int argc, char** argv, int first, std::string& err)
{
    for (int i = first; i < argc; i++) {
        std::string arg = argv[i];
        if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
            err = "unexpected argument '" + arg + "'";
            return false;
        }
        size_t eq = arg.find('=');
        if (eq != std::string::npos)
            values_[arg.substr(2, eq - 2)] = arg.substr(eq + 1);
        else if (i + 1 < argc && std::string_view(argv[i + 1]).substr(0, 2) != "--")
            values_[arg.substr(2)] = argv[++i];
        else
            values_[arg.substr(2)] = "";  // a switch; a reader of a value finds it empty
    }
    return true;
}

const std::string* Flags::find(const std::string& name)
{
    asked_.insert(name);
    auto it = values_.find(name);
    return it == values_.end() ? nullptr : &it->second;
}

long Flags::integer(const std::string& name, long def, long lo, long hi)
{
    const std::string* v = find(name);
    if (!v)
        return def;
    char* end = nullptr;
    long x = strtol(v->c_str(), &end, 10);
    if (v->empty() || *end != '\0' || x < lo || x > hi) {
        if (error_.empty())
            error_ = "--" + name + " wants an integer from " + std::to_string(lo) + " to " +
                     std::to_string(hi) + ", not '" + *v + "'";
        return def;
    }
    return x;
}

double Flags::number(const std::string& name, double def, double lo, double hi)
{
    const std::string* v = find(name);
    if (!v)
        return def;
    char* end = nullptr;
    double x = strtod(v->c_str(), &end);
    if (v->empty() || *end != '\0' || !(x >= lo && x <= hi)) {
        if (error_.empty())
            error_ = "--" + name + " wants a number from " + std::to_string(lo) + " to " +
                     std::to_string(hi) + ", not '" + *v + "'";
        return def;
    }
    return x;
}

bool Flags::on(const std::string& name)
{
    const std::string* v = find(name);
    if (!v)
        return false;
    if (v->empty() || *v == "1" || *v == "true" || *v == "yes")
        return true;
    if (*v != "0" && *v != "false" && *v != "no" && error_.empty())
        error_ = "--" + name + " is a switch (or --" + name + "=true|false), not '" + *v + "'";
    return false;
}

std::string Flags::text(const std::string& name, const std::string& def)
{
    const std::string* v = find(name);
    return v ? *v : def;
}

std::string Flags::error() const
{
    if (!error_.empty())
        return error_;
    for (const auto& [name, value] : values_)
        if (!asked_.count(name))
            return "unknown flag --" + name;
    return "";
}

}  // namespace bench
