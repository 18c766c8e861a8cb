// Admin: the two routes, and each exchange's short life: its request read, one response
// written, then the close every connection gets; one deadline over all of it, so no admin
// client can hold a slot or the loop.
#include "admin.h"

#include "http_request.h"
#include "metrics.h"

#include <ctime>

namespace {

const char* reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 414: return "URI Too Long";
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

std::string http_response(int status, std::string_view content_type, std::string_view body, double now)
{
    std::string r = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) + "\r\n";
    r += "Date: " + http_date(now) + "\r\n";
    r.append("Content-Type: ").append(content_type).append("\r\n");
    r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    if (status == 405)
        r += "Allow: GET\r\n";
    r += "Cache-Control: no-store\r\nConnection: close\r\n\r\n";
    r.append(body);
    return r;
}

}  // namespace

class Admin::Exchange final : public Connection {
public:
    Exchange(Admin& admin, int fd, std::string peer, double timeout)
        : Connection(admin.io_, fd, std::move(peer)), admin_(admin)
    {
        start_timer(timeout);
        update_interest();
    }

    // Sends response, then closes within what is left of the deadline.
    void answer(std::string response)
    {
        out().push(std::move(response), 0);
        close_after_output(timer_left());
        flush();
    }

private:
    friend class Slots<Exchange>;

    size_t read_size() override { return request_limit - in_.size(); }
    bool wants_input() const override { return true; }
    void received(const char* data, size_t n) override
    {
        in_.append(data, n);
        HttpRequest req;
        if (parse_http_request(in_, request_limit, req))
            admin_.respond(*this, req);
    }
    void input_ended(bool reset) override
    {
        if (reset || in_.empty()) {
            close_now("");
            return;
        }
        HttpRequest req;  // half-closed mid-request: it still gets an answer
        req.status = 400;
        req.line = "(incomplete request)";
        req.why = "connection closed mid-request";
        admin_.respond(*this, req);
    }
    // A request that never completes gets 408; a client that does not read its response
    // or never closes is simply closed (the deadline of the closing connection).
    void timed_out() override
    {
        admin_.log_.write(LogLevel::debug, "admin %s: 408, request incomplete after %zu bytes", peer().c_str(),
                          in_.size());
        out().push(http_response(408, "text/plain; charset=utf-8", "request timeout\n", ev_now(admin_.io_.loop)), 0);
        close_after_output(0);
        flush();
    }
    void closed_now() override { admin_.closed_.push_back(this); }

    Admin& admin_;
    std::string in_;  // the request so far, at most request_limit bytes
    size_t slot_ = 0;
};

Admin::Admin(Io& io, Source source)
    : io_(io), log_(io.log), source_(std::move(source)),
      listener_(io.loop, io.log, [this](int fd, const sockaddr* peer) { accept(fd, peer); })
{
    ev_prepare_init(&sweep_, on_sweep);
    sweep_.data = this;
    ev_prepare_start(io_.loop, &sweep_);
}

Admin::~Admin()
{
    ev_prepare_stop(io_.loop, &sweep_);
}

// Exchanges closed in a callback are destroyed before the loop sleeps, never inside it.
void Admin::on_sweep(struct ev_loop*, ev_prepare* w, int)
{
    auto* self = static_cast<Admin*>(w->data);
    for (Exchange* e : self->closed_)
        self->exchanges_.remove(*e);
    self->closed_.clear();
}

bool Admin::open(const std::string& configured, const ListenAddress& where, std::string& err)
{
    if (!listener_.open(configured, where, 64, false, err)) {
        err = "admin: " + err;
        return false;
    }
    return true;
}

void Admin::set_limits(double timeout, size_t max_connections)
{
    timeout_ = timeout;
    max_connections_ = max_connections;
}

void Admin::accept(int fd, const sockaddr* peer)
{
    std::string addr = format_address(peer);
    if (exchanges_.size() >= max_connections_) {
        close(fd);
        if (size_t n = refusals_.count(ev_now(io_.loop)))
            log_.write(LogLevel::warn,
                       "admin: refused %s: %zu connections open, max_connections (%zu refused since the "
                       "last report)",
                       addr.c_str(), exchanges_.size(), n);
        return;
    }
    exchanges_.add(std::make_unique<Exchange>(*this, fd, std::move(addr), timeout_));
}

void Admin::respond(Exchange& c, const HttpRequest& req)
{
    int status = req.status;
    std::string body, type = "text/plain; charset=utf-8";
    if (status == 0 && req.path == "/metrics") {
        status = 200;
        body = source_.metrics();
        type = exposition_content_type;
    } else if (status == 0 && req.path == "/healthz") {
        std::string reason = source_.unhealthy_reason();
        status = reason.empty() ? 200 : 503;
        body = (reason.empty() ? "ok" : reason) + "\n";
    } else if (status == 0) {
        status = 404;
        body = "not found; try /metrics or /healthz\n";
    } else {
        body = std::string(req.why) + "\n";
    }
    log_.write(LogLevel::debug, "admin %s: \"%s\" %d, %zu bytes", c.peer().c_str(), req.line.c_str(), status,
               body.size());
    c.answer(http_response(status, type, body, ev_now(io_.loop)));
}
