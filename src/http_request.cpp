// HTTP request: the request line, the header fields, and the statuses they earn.
#include "http_request.h"

#include "framer.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace {

bool tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != nullptr);
}

bool iequals(std::string_view a, std::string_view b)
{
    if (a.size() != b.size())
        return false;
    for (size_t i = 0; i < a.size(); i++)
        if (tolower(static_cast<unsigned char>(a[i])) != tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

// 0 while line (without its line end) is, or may still become, a valid request line;
// otherwise the status it earns. Checking a partial line lets garbage without a newline
// (a TLS hello, say) get its 400 at once rather than at the timeout.
int check_request_line(std::string_view line, bool complete)
{
    size_t sp1 = line.find(' ');
    std::string_view method = line.substr(0, sp1);
    // No method is longer than 32 bytes: garbage is told so at once, complete or not.
    if (method.size() > 32)
        return 400;
    for (char c : method)
        if (!tchar(c))
            return 400;
    if (sp1 == std::string_view::npos)
        return complete ? 400 : 0;
    if (method.empty())
        return 400;
    size_t sp2 = line.find(' ', sp1 + 1);
    std::string_view target = line.substr(sp1 + 1, sp2 == std::string_view::npos ? sp2 : sp2 - sp1 - 1);
    for (char c : target)
        if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
            return 400;
    if (sp2 == std::string_view::npos)
        return complete ? 400 : 0;
    if (target.empty())
        return 400;
    std::string_view version = line.substr(sp2 + 1);
    static constexpr std::string_view pattern = "HTTP/#.#";
    if (version.size() > pattern.size())
        return 400;
    for (size_t i = 0; i < version.size(); i++) {
        bool ok = pattern[i] == '#' ? version[i] >= '0' && version[i] <= '9' : version[i] == pattern[i];
        if (!ok)
            return 400;
    }
    if (!complete)
        return 0;
    if (version.size() != pattern.size())
        return 400;
    return version[5] == '1' ? 0 : 505;
}

// The request line as the log shows it: printable, and short.
std::string loggable(std::string_view line)
{
    std::string out;
    for (char c : line.substr(0, 120))
        out += c >= 0x20 && c < 0x7f && c != '"' ? c : '?';
    return line.size() > 120 ? out + "..." : out;
}

}  // namespace

bool parse_http_request(std::string_view text, size_t limit, HttpRequest& req)
{
    // A server should ignore empty lines before the request line (RFC 9112, 2.2).
    size_t start = 0;
    while (start < text.size() && (text[start] == '\r' || text[start] == '\n'))
        start++;
    size_t eol = text.find('\n', start);
    if (eol == std::string_view::npos) {
        std::string_view partial = drop_cr(text.substr(start));
        req.line = loggable(partial);
        int status = check_request_line(partial, false);
        if (status == 0 && text.size() < limit)
            return false;
        // Out of room with a request line that still looked valid: its target is too long
        // (unless there is no target at all, only blank lines).
        if (status == 0 && partial.find(' ') == std::string_view::npos)
            status = 400;
        req.status = status ? status : 414;
        req.why = status ? "malformed request line" : "request target too long";
        return true;
    }
    std::string_view line = drop_cr(text.substr(start, eol - start));
    req.line = loggable(line);
    if ((req.status = check_request_line(line, true)) != 0) {
        req.why = req.status == 505 ? "only HTTP/1.x is served" : "malformed request line";
        return true;
    }
    size_t sp1 = line.find(' '), sp2 = line.find(' ', sp1 + 1);
    req.method = line.substr(0, sp1);
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    bool http11 = line.substr(sp2 + 1) == "HTTP/1.1";
    req.http11 = http11;

    int hosts = 0;
    for (size_t pos = eol + 1;;) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) {
            if (text.size() < limit)
                return false;
            req.status = 431;
            req.why = "request header fields too large";
            return true;
        }
        std::string_view field = drop_cr(text.substr(pos, end - pos));
        pos = end + 1;
        if (field.empty()) {
            req.head_size = pos;
            break;
        }
        size_t colon = field.find(':');
        // No name, whitespace before the colon, or an obsolete line folding: all 400.
        std::string_view name = field.substr(0, colon);
        if (colon == 0 || colon == std::string_view::npos ||
            std::find_if_not(name.begin(), name.end(), tchar) != name.end()) {
            req.status = 400;
            req.why = "malformed header field";
            return true;
        }
        hosts += iequals(name, "host");
        std::string_view value = field.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
            value.remove_prefix(1);
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
            value.remove_suffix(1);
        req.fields.emplace_back(name, value);
    }
    // HTTP/1.1 requires exactly one Host (RFC 9112, 3.2); 1.0 predates it.
    if (hosts > 1 || (http11 && hosts == 0)) {
        req.status = 400;
        req.why = hosts ? "more than one Host header field" : "HTTP/1.1 request without Host";
        return true;
    }
    if (req.method != "GET") {
        req.status = 405;
        req.why = "only GET is served";
        return true;
    }
    // Origin form "/path?query", or absolute form "http://host/path?query".
    if (target[0] != '/') {
        size_t scheme = target.find("://");
        if (scheme == std::string_view::npos ||
            !(iequals(target.substr(0, scheme), "http") || iequals(target.substr(0, scheme), "https"))) {
            req.status = 400;
            req.why = "request target is neither a path nor an http URL";
            return true;
        }
        size_t slash = target.find('/', scheme + 3);
        target = slash == std::string_view::npos ? "/" : target.substr(slash);
    }
    req.path = target.substr(0, target.find_first_of("?#"));
    req.status = 0;
    return true;
}


std::string_view HttpRequest::field(std::string_view name) const
{
    for (const auto& [n, value] : fields)
        if (iequals(n, name))
            return value;
    return {};
}

bool HttpRequest::has_token(std::string_view name, std::string_view token) const
{
    for (const auto& [n, value] : fields) {
        if (!iequals(n, name))
            continue;
        std::string_view rest = value;
        while (!rest.empty()) {
            size_t comma = rest.find(',');
            std::string_view item = rest.substr(0, comma);
            while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
                item.remove_prefix(1);
            while (!item.empty() && (item.back() == ' ' || item.back() == '\t'))
                item.remove_suffix(1);
            if (iequals(item, token))
                return true;
            rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        }
    }
    return false;
}
