// HTTP requests: what the head parser accepts, and the status each kind of bad request
// earns, for complete and partial input.
#include "http_request.h"

#include <doctest/doctest.h>

namespace {
constexpr size_t limit = 8 * 1024;  // the admin listener's

// The parser's verdict on text: -1 if it wants more bytes, else the status (0: a GET to route).
int verdict(const std::string& text, HttpRequest* out = nullptr)
{
    HttpRequest req;
    if (!parse_http_request(text, limit, req))
        return -1;
    if (out)
        *out = req;
    return req.status;
}
}  // namespace

TEST_CASE("a GET is routed by its path, without the query")
{
    HttpRequest req;
    CHECK(verdict("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &req) == 0);
    CHECK(req.method == "GET");
    CHECK(req.path == "/metrics");
    CHECK(req.line == "GET /metrics HTTP/1.1");
    CHECK(verdict("GET /healthz?verbose=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", &req) == 0);
    CHECK(req.path == "/healthz");
    CHECK(verdict("GET http://127.0.0.1:9180/metrics?x HTTP/1.1\r\nHost: y\r\n\r\n", &req) == 0);
    CHECK(req.path == "/metrics");
    CHECK(verdict("GET http://h HTTP/1.1\r\nHost: h\r\n\r\n", &req) == 0);
    CHECK(req.path == "/");
    // Bare LF line ends, an empty line before the request line, HTTP/1.0 without Host.
    CHECK(verdict("GET /metrics HTTP/1.1\nhost: x\n\n", &req) == 0);
    CHECK(verdict("\r\nGET /metrics HTTP/1.0\r\n\r\n", &req) == 0);
    CHECK(req.path == "/metrics");
}

TEST_CASE("an incomplete head waits for more, up to the limit")
{
    CHECK(verdict("") == -1);
    CHECK(verdict("G") == -1);
    CHECK(verdict("GET /met") == -1);
    CHECK(verdict("GET /metrics HTTP/1.") == -1);
    CHECK(verdict("GET /metrics HTTP/1.1\r") == -1);
    CHECK(verdict("GET /metrics HTTP/1.1\r\nHost: x\r\n") == -1);
    CHECK(verdict("GET /metrics HTTP/1.1\r\nHost: x\r\n\r") == -1);
}

TEST_CASE("other methods get 405, once the head is complete")
{
    HttpRequest req;
    CHECK(verdict("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", &req) == 405);
    CHECK(req.method == "POST");
    CHECK(verdict("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n") == 405);
    CHECK(verdict("get /metrics HTTP/1.1\r\nHost: x\r\n\r\n") == 405);  // methods are case-sensitive
    CHECK(verdict("POST /metrics HTTP/1.1\r\n") == -1);
}

TEST_CASE("garbage is 400, as soon as it cannot be a request line")
{
    CHECK(verdict("hello\r\n\r\n") == 400);
    CHECK(verdict("\x16\x03\x01\x02\x00") == 400);  // a TLS hello, no newline needed
    CHECK(verdict("GET\r\n\r\n") == 400);
    CHECK(verdict(" GET / HTTP/1.1\r\n\r\n") == 400);
    CHECK(verdict("GET  / HTTP/1.1\r\n\r\n") == 400);
    CHECK(verdict("GET / HTTP/1.1 x\r\n\r\n") == 400);
    CHECK(verdict("GET / HTTX/1.1\r\n") == 400);
    CHECK(verdict("GET / HTTX") == 400);
    CHECK(verdict("GET / HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n") == 400);
    CHECK(verdict("GET / HTTP/1.1\r\nHost: x\r\nBad name: y\r\n\r\n") == 400);
    CHECK(verdict("GET / HTTP/1.1\r\nHost : x\r\n\r\n") == 400);
    CHECK(verdict("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n") == 400);
    CHECK(verdict("GET / HTTP/1.1\r\nHost: x\r\n: empty\r\n\r\n") == 400);
    CHECK(verdict("GET * HTTP/1.1\r\nHost: x\r\n\r\n") == 400);
    CHECK(verdict("GET ftp://x/metrics HTTP/1.1\r\nHost: x\r\n\r\n") == 400);
    CHECK(verdict("GET /a\x01 HTTP/1.1\r\n\r\n") == 400);
    CHECK(verdict(std::string(40, 'G')) == 400);  // no method is that long
}

TEST_CASE("HTTP/1.1 needs exactly one Host")
{
    HttpRequest req;
    CHECK(verdict("GET /metrics HTTP/1.1\r\n\r\n", &req) == 400);
    CHECK(std::string(req.why) == "HTTP/1.1 request without Host");
    CHECK(verdict("GET /metrics HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n") == 400);
    CHECK(verdict("GET /metrics HTTP/1.0\r\nHost: a\r\n\r\n") == 0);
}

TEST_CASE("other HTTP versions get 505")
{
    CHECK(verdict("GET /metrics HTTP/2.0\r\n\r\n") == 505);
    CHECK(verdict("GET /metrics HTTP/0.9\r\n\r\n") == 505);
}

TEST_CASE("over the limit: 431 for header fields, 414 for a target, 400 for garbage")
{
    std::string big_field = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(limit, 'a');
    CHECK(verdict(big_field.substr(0, limit)) == 431);
    CHECK(verdict(big_field.substr(0, limit - 1)) == -1);
    std::string big_target = "GET /" + std::string(limit, 'a');
    CHECK(verdict(big_target.substr(0, limit)) == 414);
    std::string blank_lines;
    while (blank_lines.size() < limit)
        blank_lines += "\r\n";
    CHECK(verdict(blank_lines) == 400);
    std::string fits = "GET /metrics HTTP/1.1\r\nHost: x\r\nX: " + std::string(limit - 40, 'a') + "\r\n\r\n";
    REQUIRE(fits.size() <= limit);
    CHECK(verdict(fits) == 0);
}

TEST_CASE("a method over 32 bytes is 400, whether the head is complete or not (from the fuzzer)")
{
    std::string method(40, '|');
    CHECK(verdict(method) == 400);
    CHECK(verdict(method + " / HTTP/1.1\r\nHost: x\r\n\r\n") == 400);
    CHECK(verdict(std::string(32, 'M') + " / HTTP/1.1\r\nHost: x\r\n\r\n") == 405);
}
