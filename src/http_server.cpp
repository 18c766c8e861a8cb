// HTTP server: accepting within the cap, each exchange's short life, and the response's
// common form: one request read, one response written, then the close every connection
// gets; one deadline over all of it, so no HTTP client can hold a slot or the loop.
#include "http_server.h"

#include <ctime>
#include <unistd.h>

namespace {

const char* reason_phrase(int status)
{
    switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 414: return "URI Too Long";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

std::string http_date(double unix_time)
{
    time_t t = static_cast<time_t>(unix_time);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[64];
    strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);  // evchat keeps the C locale
    return buf;
}

}  // namespace

std::string http_response(const HttpServer::Response& resp, double now)
{
    std::string r = "HTTP/1.1 " + std::to_string(resp.status) + " " + reason_phrase(resp.status) + "\r\n";
    r += "Date: " + http_date(now) + "\r\n";
    r += "Content-Type: " + resp.content_type + "\r\n";
    r += "Content-Length: " + std::to_string(resp.body.size()) + "\r\n";
    if (resp.status == 405)
        r += "Allow: GET\r\n";
    for (const auto& [name, value] : resp.fields)
        r += name + ": " + value + "\r\n";
    r += "Cache-Control: no-store\r\nConnection: close\r\n\r\n";
    r += resp.body;
    return r;
}

HttpServer::HttpServer(Io& io, Handler& handler, std::string name)
    : io_(io), handler_(handler), name_(std::move(name)),
      exchanges_(io.loop), listener_(io.loop, io.log, [this](int fd, const sockaddr* peer) { accept(fd, peer); })
{
}

HttpServer::~HttpServer() = default;

bool HttpServer::open(const std::string& configured, const ListenAddress& where, std::string& err)
{
    if (!listener_.open(configured, where, 64, false, err)) {
        err = name_ + ": " + err;
        return false;
    }
    return true;
}

void HttpServer::set_limits(double timeout, size_t max_connections)
{
    timeout_ = timeout;
    max_connections_ = max_connections;
}

void HttpServer::accept(int fd, const sockaddr* peer)
{
    if (intake_)
        intake_(fd, peer);
    else
        take(Socket(fd), format_address(peer), {});
}

void HttpServer::take(Socket socket, std::string addr, std::string rest)
{
    if (exchanges_.size() >= max_connections_) {
        if (size_t n = refusals_.count(ev_now(io_.loop)))
            io_.log.write(LogLevel::warn,
                          "%s: refused %s: %zu connections open, max_connections (%zu refused since the last report)",
                          name_.c_str(), addr.c_str(), exchanges_.size(), n);
        return;
    }
    Exchange& ex = exchanges_.add(std::make_unique<Exchange>(*this, std::move(socket), std::move(addr), timeout_));
    if (!rest.empty())
        ex.received(rest.data(), rest.size());
}

HttpServer::Exchange::Exchange(HttpServer& server, Socket socket, std::string peer, double timeout)
    : Connection(server.io_, std::move(socket), std::move(peer)), server_(server)
{
    start_timer(timeout);
    update_interest();
}

void HttpServer::Exchange::received(const char* data, size_t n)
{
    in_.append(data, n);
    HttpRequest req;
    if (!parse_http_request(in_, request_limit, req))
        return;
    head_ = req.head_size;
    server_.handler_.respond(*this, req);
}

void HttpServer::Exchange::input_ended(bool reset)
{
    if (reset || in_.empty()) {
        close_now("");
        return;
    }
    HttpRequest req;  // half-closed mid-request: it still gets an answer
    req.status = 400;
    req.line = "(incomplete request)";
    req.why = "connection closed mid-request";
    server_.handler_.respond(*this, req);
}

// A request that never completes gets 408; a client that does not read its response or
// never closes is simply closed (the deadline of the closing connection).
void HttpServer::Exchange::timed_out()
{
    HttpRequest req;
    req.status = 408;
    req.line = "(incomplete request)";
    Response r;
    r.status = 408;
    r.body = "request timeout\n";
    answer(req, r);
}

void HttpServer::Exchange::answer(const HttpRequest& req, const Response& response)
{
    io().log.write(LogLevel::debug, "%s %s: \"%s\" %d, %zu bytes", server_.name_.c_str(), peer().c_str(),
                   req.line.c_str(), response.status, response.body.size());
    out().push(http_response(response, ev_now(io().loop)), 0);
    close_after_output(response.status == 408 ? 0 : timer_left());
    flush();
}

std::pair<Socket, std::string> HttpServer::Exchange::hand_over()
{
    std::string rest = in_.substr(std::min(head_, in_.size()));
    return {release(), std::move(rest)};
}
