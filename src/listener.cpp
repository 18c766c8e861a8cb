// Listener: socket setup and the accept loop.
#include "listener.h"

#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {
// Accepts per wakeup: enough to drain a burst, few enough that clients keep being served.
constexpr int accepts_per_wakeup = 64;
// How long accepting pauses when the process or system is out of descriptors or memory.
constexpr double exhausted_backoff = 0.1;
}  // namespace

Listener::Listener(struct ev_loop* loop, Log& log, AcceptFn on_accept)
    : loop_(loop), log_(log), on_accept_(std::move(on_accept))
{
    ev_io_init(&io_, on_readable, -1, EV_READ);
    io_.data = this;
    ev_init(&backoff_, on_backoff);
    backoff_.data = this;
}

Listener::~Listener()
{
    ev_io_stop(loop_, &io_);
    ev_timer_stop(loop_, &backoff_);
    if (fd_ >= 0)
        close(fd_);
}

bool Listener::open(const std::string& configured, const ListenAddress& where, int backlog,
                    bool reuse_port, std::string& err)
{
    configured_ = configured;
    const auto* sa = reinterpret_cast<const sockaddr*>(&where.addr);
    std::string wanted = format_address(sa);
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        err = "socket for " + wanted + ": " + strerror(errno);
        return false;
    }
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuse_port)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (sa->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, where.dual_stack ? &zero : &one, sizeof one);
    if (bind(fd, sa, where.len) < 0 || ::listen(fd, backlog) < 0) {
        err = "listen on " + wanted + ": " + strerror(errno);
        close(fd);
        return false;
    }
    sockaddr_storage bound;
    socklen_t len = sizeof bound;
    getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
    address_ = format_address(reinterpret_cast<sockaddr*>(&bound));
    fd_ = fd;
    ev_io_set(&io_, fd_, EV_READ);
    ev_io_start(loop_, &io_);
    return true;
}

void Listener::set_backlog(int backlog)
{
    if (::listen(fd_, backlog) != 0)
        log_.write(LogLevel::warn, "listen on %s with backlog %d: %s; the old backlog stays", address_.c_str(),
                   backlog, strerror(errno));
}

void Listener::on_readable(struct ev_loop*, ev_io* w, int)
{
    static_cast<Listener*>(w->data)->accept_some();
}

void Listener::on_backoff(struct ev_loop* loop, ev_timer* w, int)
{
    auto* self = static_cast<Listener*>(w->data);
    ev_io_start(loop, &self->io_);
    self->accept_some();
}

void Listener::accept_some()
{
    for (int i = 0; i < accepts_per_wakeup; i++) {
        sockaddr_storage peer;
        socklen_t len = sizeof peer;
        int fd = accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            if (exhausted_) {
                log_.write(LogLevel::info, "accepting again on %s", address_.c_str());
                exhausted_ = false;
            }
            on_accept_(fd, reinterpret_cast<sockaddr*>(&peer));
            continue;
        }
        switch (errno) {
        case EAGAIN:
            return;
        case EINTR:
        case ECONNABORTED:  // the peer gave up while queued; Linux also reports
        case EPROTO:        // some of the peer's network errors here: next one
        case ENETDOWN:
        case ENETUNREACH:
        case EHOSTDOWN:
        case EHOSTUNREACH:
        case ENONET:
        case ENOPROTOOPT:
        case EOPNOTSUPP:
            continue;
        default:
            // Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) or worse: the
            // connection stays queued in the kernel, and the watcher rests until the
            // timer instead of waking the loop for it again and again.
            if (!exhausted_)
                log_.write(LogLevel::warn, "accept on %s: %s; pausing accepts, retrying every %g s",
                           address_.c_str(), strerror(errno), exhausted_backoff);
            exhausted_ = true;
            exhaustions_++;
            ev_io_stop(loop_, &io_);
            ev_timer_set(&backoff_, exhausted_backoff, 0.0);  // a fired one-shot keeps no delay
            ev_timer_start(loop_, &backoff_);
            return;
        }
    }
}
