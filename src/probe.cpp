// Probes: one connection within a deadline, shared by the health check and --stats.
#include "probe.h"

#include "address.h"
#include "metrics.h"
#include "tls_client.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

namespace {

double now()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

// Waits for events on fd until the deadline; false on timeout or error.
bool wait_for(int fd, short events, double deadline)
{
    for (;;) {
        double left = deadline - now();
        if (left <= 0)
            return false;
        pollfd p{fd, events, 0};
        int r = poll(&p, 1, static_cast<int>(left * 1000) + 1);
        if (r > 0)
            return true;
        if (r == 0 || errno != EINTR)
            return false;
    }
}

// A connected non-blocking socket to address ("HOST:PORT", numeric or localhost; an empty
// host means this machine, over loopback), or -1 with message saying why.
int connect_to(const std::string& address, double deadline, std::string& message)
{
    ListenAddress where;
    if (!parse_listen_address(address, where, message))
        return -1;
    auto* sa = reinterpret_cast<sockaddr*>(&where.addr);
    if (where.dual_stack)
        reinterpret_cast<sockaddr_in6*>(sa)->sin6_addr = in6addr_loopback;
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        message = std::string("socket: ") + strerror(errno);
        return -1;
    }
    if (connect(fd, sa, where.len) < 0 && errno != EINPROGRESS) {
        message = strerror(errno);
    } else if (!wait_for(fd, POLLOUT, deadline)) {
        message = "connect timed out";
    } else {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        if (!soerr)
            return fd;
        message = strerror(soerr);
    }
    close(fd);
    return -1;
}

// Reads into text, from the socket or through TLS over it, until done(text), the end of
// the peer's output (*eof: EOF, close_notify or an error), max bytes, or the deadline.
// False on timeout.
template <typename Done>
bool read_until(int fd, TlsStream* tls, std::string& text, size_t max, double deadline, Done done, bool* eof)
{
    char buf[16384];
    *eof = false;
    while (!done(text) && text.size() < max) {
        size_t cap = std::min(sizeof buf, max - text.size());
        ssize_t n;
        short wait = POLLIN;
        if (tls) {
            size_t got = 0;
            TlsStream::Io io = tls->read(buf, cap, got);
            wait = TlsStream::poll_events(io);
            n = io == TlsStream::Io::done ? static_cast<ssize_t>(got) : wait ? -1 : 0;
        } else {
            n = read(fd, buf, cap);
            if (n < 0 && errno != EAGAIN && errno != EINTR)
                n = 0;
        }
        if (n > 0) {
            text.append(buf, static_cast<size_t>(n));
        } else if (n == 0) {
            *eof = true;
            return true;
        } else if (!wait_for(fd, wait, deadline)) {
            return false;
        }
    }
    return true;
}

bool send_all(int fd, const std::string& data, double deadline)
{
    for (size_t off = 0; off < data.size();) {
        if (!wait_for(fd, POLLOUT, deadline))
            return false;
        ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n < 0)
            return false;
        off += static_cast<size_t>(n);
    }
    return true;
}

}  // namespace

int run_healthcheck(const std::string& target, double timeout_seconds, std::string& message)
{
    double deadline = now() + timeout_seconds;
    // A health check asks whether the server runs, not who it is: tls:// takes the
    // certificate as it comes (a self-signed one too); tls+verify:// checks it.
    std::string address = target;
    std::unique_ptr<TlsClient> client;
    if (target.rfind("tls://", 0) == 0) {
        address = target.substr(6);
        client = std::make_unique<TlsClient>(false);
    } else if (target.rfind("tls+verify://", 0) == 0) {
        address = target.substr(13);
        client = std::make_unique<TlsClient>(true);
    }
    if (client && !client->ok()) {
        message = target + ": " + client->error();
        return 1;
    }
    int fd = connect_to(address, deadline, message);
    if (fd < 0) {
        message = target + ": " + message;
        return 1;
    }
    std::unique_ptr<TlsStream> tls;
    if (client) {
        // The name a verifying client checks is the address's host, brackets off.
        std::string host = address.substr(0, address.rfind(':'));
        if (host.size() >= 2 && host.front() == '[')
            host = host.substr(1, host.size() - 2);
        tls = std::make_unique<TlsStream>(*client, fd, host.empty() ? "localhost" : host);
        if (!tls->handshake_within(deadline - now())) {
            message = target + ": TLS: " + tls->error();
            close(fd);
            return 1;
        }
    }
    std::string line;
    bool eof;
    auto has_line = [](const std::string& s) { return s.find('\n') != std::string::npos; };
    int status = 1;
    if (!read_until(fd, tls.get(), line, 256, deadline, has_line, &eof))
        message = target + ": no greeting in time";
    else if (eof && !has_line(line) && tls && !tls->error().empty())
        message = target + ": closed before the greeting: TLS: " + tls->error();
    else if (eof && !has_line(line))
        message = target + ": closed before the greeting";
    else if ((line.rfind("You are ", 0) == 0 || line.rfind("Your name?\n", 0) == 0) && has_line(line))
        message = target + ": ok", status = 0;
    else
        message = target + ": unexpected greeting";
    if (tls)
        tls->close_notify();  // a goodbye, so that the server does not log a cut connection
    close(fd);
    return status;
}

int run_stats(const std::string& target, double timeout_seconds, std::string& table, std::string& message)
{
    double deadline = now() + timeout_seconds;
    int fd = connect_to(target, deadline, message);
    if (fd < 0) {
        message = target + ": " + message;
        return 1;
    }
    std::string request = "GET /metrics HTTP/1.1\r\nHost: " + target +
                          "\r\nUser-Agent: evchat-stats\r\nAccept: text/plain\r\nConnection: close\r\n\r\n";
    // Done at the server's close, or early when the answer is plainly not HTTP (the chat
    // port greets and waits).
    auto not_http = [](const std::string& s) { return s.size() >= 5 && s.compare(0, 5, "HTTP/") != 0; };
    std::string response;
    bool eof = false;
    bool ok = send_all(fd, request, deadline) && read_until(fd, nullptr, response, 64 << 20, deadline, not_http, &eof);
    close(fd);
    if (ok && not_http(response)) {
        message = target + ": not an HTTP answer (is this the admin address?)";
        return 1;
    }
    if (!ok || !eof) {
        message = target + ": no complete answer in time";
        return 1;
    }
    // "HTTP/1.1 200 OK", header fields, an empty line, the body (the server closes after it).
    size_t head_end = response.find("\r\n\r\n");
    if (response.compare(0, 5, "HTTP/") != 0 || head_end == std::string::npos) {
        message = target + ": not an HTTP answer (is this the admin address?)";
        return 1;
    }
    std::string status_line = response.substr(0, response.find("\r\n"));
    size_t sp = status_line.find(' ');
    if (sp == std::string::npos || atoi(status_line.c_str() + sp + 1) != 200) {
        message = target + ": " + status_line;
        return 1;
    }
    std::string_view body = std::string_view(response).substr(head_end + 4);
    std::string head = response.substr(0, head_end);
    for (char& c : head)
        c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    size_t length = head.find("\r\ncontent-length:");
    if (length != std::string::npos && strtoull(head.c_str() + length + 17, nullptr, 10) != body.size()) {
        message = target + ": the answer was cut short";
        return 1;
    }
    table = format_table(body);
    message = target + ": ok";
    return 0;
}
