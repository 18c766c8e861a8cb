// JSON lines: the generator's result format, one flat object per line, written and read.
// Values: main owns the JsonLine a scenario fills; `report` owns the objects it reads.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace bench {

// Objects are flat: numbers, strings, booleans. The scenarios write them, `report` reads.
// Builds one object, keys in the order added.
class JsonLine {
public:
    void num(std::string_view key, double value);
    void str(std::string_view key, std::string_view value);
    void flag(std::string_view key, bool value);
    std::string text() const { return "{" + body_ + "}"; }

private:
    void key(std::string_view k);
    std::string body_;
};

struct JsonValue {
    enum class Kind { number, string, boolean, null } kind = Kind::null;
    double number = 0;
    std::string text;  // strings; booleans as "true"/"false"
};

using JsonObject = std::map<std::string, JsonValue, std::less<>>;

// Reads one flat object; false with err if the line is not one.
bool parse_json_object(std::string_view line, JsonObject& out, std::string& err);

}  // namespace bench
