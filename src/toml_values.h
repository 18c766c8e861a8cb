// TOML values: reading one value of the config file as the type a key wants, within
// bounds, or failing with the node's position. Pure; used by config.cpp's key table.
#pragma once

// toml++ 3.3 asserts things about its input that malformed files violate ("[#", a NUL
// in a key) although its own error path handles them; under NDEBUG it would even tell
// the compiler to assume them. Its internal checks are therefore off here, whatever
// NDEBUG says. Found by tests/fuzz/config_fuzz.cpp (the corpus keeps the inputs).
#define TOML_ASSERT(expr) static_cast<void>(0)
#pragma push_macro("NDEBUG")
#undef NDEBUG
#include <toml++/toml.h>
#pragma pop_macro("NDEBUG")

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// Thrown at the first invalid setting; carries the node whose position is reported.
struct Invalid {
    toml::source_region where;
    std::string message;
};

[[noreturn]] void fail(const toml::source_region& where, std::string message);

constexpr double max_seconds = 86400.0;

// A number, integer or not, within [min, max]; unit names what it counts in messages.
double get_number(const toml::node& node, std::string_view key, double min, double max, std::string_view unit);
double get_seconds(const toml::node& node, std::string_view key, double min);
double get_rate(const toml::node& node, std::string_view key, double min);
int64_t get_integer(const toml::node& node, std::string_view key, int64_t min, int64_t max);
// Sizes: an integer count of bytes, or "64KiB" / "1MiB" / "2GiB" / "100B".
size_t get_size(const toml::node& node, std::string_view key, uint64_t min, uint64_t max);
const std::string& get_string(const toml::node& node, std::string_view key);
bool get_bool(const toml::node& node, std::string_view key);
const toml::table& get_table(const toml::node& node, std::string_view key);
// "HOST:PORT" as a listen address; the forms are parse_listen_address's.
std::string get_address(const toml::node& node, std::string_view key);
// An array of addresses; empty allowed only if may_be_empty.
std::vector<std::string> get_addresses(const toml::node& node, std::string_view key, bool may_be_empty);
// An array of strings.
std::vector<std::string> get_strings(const toml::node& node, std::string_view key);

// One of a few strings, each standing for a value; the message lists them: "a" or "b".
template <class T>
T get_choice(const toml::node& node, std::string_view key, std::initializer_list<std::pair<const char*, T>> choices)
{
    const std::string& s = get_string(node, key);
    std::string names;
    for (size_t i = 0; i < choices.size(); i++) {
        const auto& [name, value] = choices.begin()[i];
        if (s == name)
            return value;
        if (i > 0)
            names += i + 1 == choices.size() ? " or " : ", ";
        names += "\"" + std::string(name) + "\"";
    }
    fail(node.source(), std::string(key) + " must be " + names);
}
