// Admin: request parsing, the two routes, and each connection's short life:
//   reading --(head complete, or bad)--> writing --(response out)--> draining --(EOF)--> closed
// with one deadline over all of it, so no admin client can hold a slot or the loop.
#include "admin.h"

#include "framer.h"
#include "metrics.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <sys/socket.h>
#include <unistd.h>

namespace {

// What a draining connection may still send us before we stop being polite and close.
constexpr size_t drain_limit = 64 * 1024;

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
    for (char c : method)
        if (!tchar(c))
            return 400;
    if (sp1 == std::string_view::npos)
        return complete || method.size() > 32 ? 400 : 0;
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

bool parse_admin_request(std::string_view text, size_t limit, AdminRequest& req)
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
        if (field.empty())
            break;
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

class Admin::Connection {
public:
    Connection(Admin& admin, int fd, std::string peer, double timeout)
        : admin_(admin), fd_(fd), peer_(std::move(peer))
    {
        ev_io_init(&read_w_, on_read, fd_, EV_READ);
        ev_io_init(&write_w_, on_write, fd_, EV_WRITE);
        ev_timer_init(&deadline_, on_deadline, timeout, 0.0);
        read_w_.data = write_w_.data = deadline_.data = this;
        ev_io_start(admin_.loop_, &read_w_);
        ev_timer_start(admin_.loop_, &deadline_);
    }
    ~Connection()
    {
        ev_io_stop(admin_.loop_, &read_w_);
        ev_io_stop(admin_.loop_, &write_w_);
        ev_timer_stop(admin_.loop_, &deadline_);
        close(fd_);
    }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    const std::string& peer() const { return peer_; }
    // Sends response, then waits for the client to finish.
    void answer(std::string response)
    {
        out_ = std::move(response);
        state_ = State::writing;
        ev_io_stop(admin_.loop_, &read_w_);
        write_some();
    }

    size_t slot = 0;

private:
    enum class State { reading, writing, draining };

    static void on_read(struct ev_loop*, ev_io* w, int)
    {
        auto* self = static_cast<Connection*>(w->data);
        if (self->state_ == State::reading)
            self->read_request();
        else
            self->drain();
    }
    static void on_write(struct ev_loop*, ev_io* w, int) { static_cast<Connection*>(w->data)->write_some(); }
    // The deadline covers the whole connection: a request that never completes gets 408,
    // a client that does not read its response or never closes is simply closed.
    static void on_deadline(struct ev_loop*, ev_timer* w, int)
    {
        auto* self = static_cast<Connection*>(w->data);
        if (self->state_ == State::reading) {
            std::string r = http_response(408, "text/plain; charset=utf-8", "request timeout\n",
                                          ev_now(self->admin_.loop_));
            ssize_t ignored = write(self->fd_, r.data(), r.size());  // a fresh socket takes it
            (void)ignored;
            self->admin_.log_.write(LogLevel::debug, "admin %s: 408, request incomplete after %zu bytes",
                                    self->peer_.c_str(), self->in_.size());
        }
        self->admin_.remove(*self);
    }

    void read_request()
    {
        char* end = buf_ + in_.size();
        ssize_t n = read(fd_, end, request_limit - in_.size());
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            if (n == 0 && !in_.empty()) {  // half-closed mid-request: it still gets an answer
                AdminRequest req;
                req.status = 400;
                req.line = "(incomplete request)";
                req.why = "connection closed mid-request";
                admin_.respond(*this, req);
            } else {
                admin_.remove(*this);
            }
            return;
        }
        in_ = std::string_view(buf_, in_.size() + static_cast<size_t>(n));
        AdminRequest req;
        if (parse_admin_request(in_, request_limit, req))
            admin_.respond(*this, req);
    }

    void write_some()
    {
        while (written_ < out_.size()) {
            ssize_t n = write(fd_, out_.data() + written_, out_.size() - written_);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN) {
                ev_io_start(admin_.loop_, &write_w_);
                return;
            }
            if (n < 0) {
                admin_.remove(*this);
                return;
            }
            written_ += static_cast<size_t>(n);
        }
        // Closing with the client's bytes unread would turn the FIN into a reset that can
        // destroy the response in flight; so shut the write side and read until EOF.
        ev_io_stop(admin_.loop_, &write_w_);
        ::shutdown(fd_, SHUT_WR);
        state_ = State::draining;
        ev_io_start(admin_.loop_, &read_w_);
        drain();
    }

    void drain()
    {
        char scratch[4096];
        for (;;) {
            ssize_t n = read(fd_, scratch, sizeof scratch);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN)
                return;
            if (n <= 0 || (discarded_ += static_cast<size_t>(n)) > drain_limit) {
                admin_.remove(*this);
                return;
            }
        }
    }

    Admin& admin_;
    int fd_;
    std::string peer_;
    State state_ = State::reading;
    char buf_[request_limit];
    std::string_view in_{buf_, 0};  // the request so far, in buf_
    std::string out_;
    size_t written_ = 0;
    size_t discarded_ = 0;
    ev_io read_w_;
    ev_io write_w_;
    ev_timer deadline_;
};

Admin::Admin(struct ev_loop* loop, Log& log, Source source)
    : loop_(loop), log_(log), source_(std::move(source)),
      listener_(loop, log, [this](int fd, const sockaddr* peer) { accept(fd, peer); })
{
}

Admin::~Admin() = default;

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
    if (connections_.size() >= max_connections_) {
        close(fd);
        if (size_t n = refusals_.count(ev_now(loop_)))
            log_.write(LogLevel::warn,
                       "admin: refused %s: %zu connections open, max_connections (%zu refused since the "
                       "last report)",
                       addr.c_str(), connections_.size(), n);
        return;
    }
    connections_.push_back(std::make_unique<Connection>(*this, fd, std::move(addr), timeout_));
    connections_.back()->slot = connections_.size() - 1;
}

void Admin::respond(Connection& c, const AdminRequest& req)
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
    c.answer(http_response(status, type, body, ev_now(loop_)));
}

void Admin::remove(Connection& c)
{
    size_t slot = c.slot;
    if (slot != connections_.size() - 1) {
        std::swap(connections_[slot], connections_.back());
        connections_[slot]->slot = slot;
    }
    connections_.pop_back();
}
