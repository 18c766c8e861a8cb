// JSON lines: writing and reading flat objects.
#include "bench/json.h"

#include "log.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace bench {

namespace {

class Reader {
public:
    explicit Reader(std::string_view s) : s_(s) {}

    bool object(JsonObject& out, std::string& err)
    {
        skip_space();
        if (!eat('{'))
            return fail(err, "expected '{'");
        skip_space();
        if (eat('}'))
            return true;
        for (;;) {
            std::string key;
            skip_space();
            if (!string(key))
                return fail(err, "expected a key");
            skip_space();
            if (!eat(':'))
                return fail(err, "expected ':'");
            skip_space();
            JsonValue v;
            if (!value(v))
                return fail(err, "bad value of \"" + key + "\"");
            out[key] = std::move(v);
            skip_space();
            if (eat('}'))
                break;
            if (!eat(','))
                return fail(err, "expected ',' or '}'");
        }
        skip_space();
        return pos_ == s_.size() || fail(err, "text after the object");
    }

private:
    bool fail(std::string& err, const std::string& what)
    {
        err = what + " at column " + std::to_string(pos_ + 1);
        return false;
    }
    void skip_space()
    {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\r'))
            pos_++;
    }
    bool eat(char c)
    {
        if (pos_ < s_.size() && s_[pos_] == c) {
            pos_++;
            return true;
        }
        return false;
    }
    bool word(std::string_view w)
    {
        if (s_.substr(pos_, w.size()) != w)
            return false;
        pos_ += w.size();
        return true;
    }
    bool string(std::string& out)
    {
        if (!eat('"'))
            return false;
        while (pos_ < s_.size()) {
            char c = s_[pos_++];
            if (c == '"')
                return true;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ >= s_.size())
                return false;
            char e = s_[pos_++];
            switch (e) {
            case 'n': out += '\n'; break;
            case 't': out += '\t'; break;
            case 'r': out += '\r'; break;
            case 'u': {
                // Only what the writer produces: control characters, \u00XX.
                if (pos_ + 4 > s_.size())
                    return false;
                out += static_cast<char>(strtol(std::string(s_.substr(pos_, 4)).c_str(), nullptr, 16));
                pos_ += 4;
                break;
            }
            default: out += e;
            }
        }
        return false;
    }
    bool value(JsonValue& v)
    {
        if (pos_ >= s_.size())
            return false;
        if (s_[pos_] == '"') {
            v.kind = JsonValue::Kind::string;
            return string(v.text);
        }
        for (const char* b : {"true", "false"}) {
            if (word(b)) {
                v.kind = JsonValue::Kind::boolean;
                v.text = b;
                return true;
            }
        }
        if (word("null")) {
            v.kind = JsonValue::Kind::null;
            return true;
        }
        std::string num(s_.substr(pos_, s_.find_first_of(",} ", pos_) - pos_));
        char* end = nullptr;
        v.number = strtod(num.c_str(), &end);
        if (num.empty() || *end != '\0')
            return false;
        v.kind = JsonValue::Kind::number;
        pos_ += num.size();
        return true;
    }

    std::string_view s_;
    size_t pos_ = 0;
};

}  // namespace

void JsonLine::key(std::string_view k)
{
    if (!body_.empty())
        body_ += ',';
    append_json_string(body_, k);
    body_ += ':';
}

void JsonLine::num(std::string_view k, double value)
{
    key(k);
    if (!std::isfinite(value)) {
        body_ += "null";
        return;
    }
    char buf[32];
    if (value == std::floor(value) && std::fabs(value) < 1e15)
        snprintf(buf, sizeof buf, "%.0f", value);
    else
        snprintf(buf, sizeof buf, "%.6g", value);
    body_ += buf;
}

void JsonLine::str(std::string_view k, std::string_view value)
{
    key(k);
    append_json_string(body_, value);
}

void JsonLine::flag(std::string_view k, bool value)
{
    key(k);
    body_ += value ? "true" : "false";
}

bool parse_json_object(std::string_view line, JsonObject& out, std::string& err)
{
    return Reader(line).object(out, err);
}

}  // namespace bench
