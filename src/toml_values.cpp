// TOML values: each type's reading and its message.
#include "toml_values.h"

#include "address.h"

#include <cerrno>
#include <cmath>
#include <sstream>

void fail(const toml::source_region& where, std::string message)
{
    throw Invalid{where, std::move(message)};
}

// A number, integer or not, within [min, max]; unit names what it counts in messages.
double get_number(const toml::node& node, std::string_view key, double min, double max, std::string_view unit)
{
    std::optional<double> value = node.value<double>();  // accepts integers too
    std::string of = unit.empty() ? "" : " " + std::string(unit);
    if (!value || !node.is_number())
        fail(node.source(), std::string(key) + " must be a number" + (unit.empty() ? "" : " of" + of));
    if (!std::isfinite(*value) || *value < min || *value > max) {
        std::ostringstream msg;
        msg << key << " must be between " << min << " and " << max << of;
        fail(node.source(), msg.str());
    }
    return *value;
}

double get_seconds(const toml::node& node, std::string_view key, double min)
{
    return get_number(node, key, min, max_seconds, "seconds");
}

int64_t get_integer(const toml::node& node, std::string_view key, int64_t min, int64_t max)
{
    if (!node.is_integer())
        fail(node.source(), std::string(key) + " must be an integer");
    int64_t value = **node.as_integer();
    if (value < min || value > max)
        fail(node.source(), std::string(key) + " must be between " + std::to_string(min) +
                                " and " + std::to_string(max));
    return value;
}

// Sizes: an integer count of bytes, or "64KiB" / "1MiB" / "2GiB" / "100B".
size_t get_size(const toml::node& node, std::string_view key, uint64_t min, uint64_t max)
{
    uint64_t bytes = 0;
    if (node.is_integer()) {
        int64_t v = **node.as_integer();
        bytes = v < 0 ? UINT64_MAX : static_cast<uint64_t>(v);
    } else if (node.is_string()) {
        const std::string& s = **node.as_string();
        char* end = nullptr;
        errno = 0;
        unsigned long long n = strtoull(s.c_str(), &end, 10);
        std::string unit(end);
        uint64_t scale = unit == "" || unit == "B"  ? 1
                         : unit == "KiB"             ? 1ull << 10
                         : unit == "MiB"             ? 1ull << 20
                         : unit == "GiB"             ? 1ull << 30
                                                     : 0;
        if (end == s.c_str() || errno || !scale || s[0] == '-' || s[0] == '+')
            fail(node.source(), std::string(key) +
                                    " must be a size: bytes, or a string like \"64KiB\", "
                                    "\"1MiB\", \"1GiB\"");
        bytes = n > UINT64_MAX / scale ? UINT64_MAX : n * scale;
    } else {
        fail(node.source(), std::string(key) + " must be a size (an integer or a string)");
    }
    if (bytes < min || bytes > max)
        fail(node.source(), std::string(key) + " must be between " + std::to_string(min) +
                                " and " + std::to_string(max) + " bytes");
    return static_cast<size_t>(bytes);
}

const std::string& get_string(const toml::node& node, std::string_view key)
{
    if (!node.is_string())
        fail(node.source(), std::string(key) + " must be a string");
    return **node.as_string();
}

bool get_bool(const toml::node& node, std::string_view key)
{
    if (!node.is_boolean())
        fail(node.source(), std::string(key) + " must be true or false");
    return **node.as_boolean();
}

const toml::table& get_table(const toml::node& node, std::string_view key)
{
    if (!node.is_table())
        fail(node.source(), "[" + std::string(key) + "] must be a table");
    return *node.as_table();
}

double get_rate(const toml::node& node, std::string_view key, double min)
{
    return get_number(node, key, min, 1e12, "");
}

// "HOST:PORT" as a listen address; the forms are parse_listen_address's.
std::string get_address(const toml::node& node, std::string_view key)
{
    const std::string& text = get_string(node, key);
    ListenAddress where;
    std::string err;
    if (!parse_listen_address(text, where, err))
        fail(node.source(), err);
    return text;
}

std::vector<std::string> get_addresses(const toml::node& node, std::string_view key, bool may_be_empty)
{
    if (!node.is_array() || (!may_be_empty && node.as_array()->empty()))
        fail(node.source(), std::string(key) + " must be a" + (may_be_empty ? "n" : " non-empty") +
                                " array of \"HOST:PORT\" strings");
    std::vector<std::string> out;
    for (const toml::node& item : *node.as_array())
        out.push_back(get_address(item, std::string(key) + " entry"));
    return out;
}

std::vector<std::string> get_strings(const toml::node& node, std::string_view key)
{
    if (!node.is_array())
        fail(node.source(), std::string(key) + " must be an array of strings");
    std::vector<std::string> out;
    for (const toml::node& item : *node.as_array())
        out.push_back(get_string(item, std::string(key) + " entry"));
    return out;
}

