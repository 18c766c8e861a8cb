// Payload: formatting and strict parsing of data lines and churners' lines.
#include "bench/payload.h"

#include <charconv>

namespace bench {

namespace {

constexpr std::string_view churn_tag = "churn ";

void append_number(std::string& out, uint64_t v)
{
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr - buf);
}

// Reads decimal digits up to the next space or the end; s moves past them.
bool take_number(std::string_view& s, uint64_t& v)
{
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end == s.data())
        return false;
    s.remove_prefix(end - s.data());
    return true;
}

}  // namespace

void format_data(std::string& out, const Data& d, size_t size)
{
    out.clear();
    append_number(out, d.sender);
    out += ' ';
    append_number(out, d.seq);
    out += ' ';
    append_number(out, d.sent_ns);
    if (out.size() < size) {
        out += ' ';
        out.append(size - out.size(), 'x');
    }
}

bool parse_data(std::string_view s, Data& d)
{
    uint64_t sender = 0;
    if (!take_number(s, sender) || sender > UINT32_MAX || s.empty() || s[0] != ' ')
        return false;
    s.remove_prefix(1);
    if (!take_number(s, d.seq) || s.empty() || s[0] != ' ')
        return false;
    s.remove_prefix(1);
    if (!take_number(s, d.sent_ns))
        return false;
    if (!s.empty()) {
        if (s[0] != ' ' || s.find_first_not_of('x', 1) != std::string_view::npos)
            return false;
    }
    d.sender = static_cast<uint32_t>(sender);
    return true;
}

std::string format_churn(int index) { return std::string(churn_tag) + std::to_string(index); }

bool parse_churn(std::string_view s, int& index)
{
    if (s.substr(0, churn_tag.size()) != churn_tag)
        return false;
    s.remove_prefix(churn_tag.size());
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), index);
    return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace bench
