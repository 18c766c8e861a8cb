// HTTP request: the head of an HTTP/1.x request (request line and header fields) parsed
// from the bytes that have arrived so far. Pure; whoever reads the request owns it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// The request as far as it was understood, and the status it earns.
struct HttpRequest {
    int status = 0;        // 0: a GET of path, to be routed; otherwise the error to send
    std::string method;
    std::string path;      // without the query
    std::string line;      // the request line, for the log
    const char* why = "";  // with an error status: what was wrong, for the answer and the log
    bool http11 = false;
    size_t head_size = 0;  // once the head is complete: its bytes, the blank line included
    std::vector<std::pair<std::string, std::string>> fields;  // name as sent, value trimmed

    // The value of the first field called name (any case), or "".
    std::string_view field(std::string_view name) const;
    // Whether a comma-separated list field (Connection, Upgrade) holds token (any case).
    bool has_token(std::string_view name, std::string_view token) const;
};

// Parses the head of an HTTP/1.x request in text, which holds what has arrived so far.
// Returns false while more bytes could complete it, true once req is final: a GET to
// route, or an error status (400, 405, 414, 431, 505). limit: the most bytes a head may take.
bool parse_http_request(std::string_view text, size_t limit, HttpRequest& req);
