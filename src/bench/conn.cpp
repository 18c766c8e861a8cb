// Conn: the shared read state, socket setup, the read and write watchers, and closing.
#include "bench/conn.h"

#include "address.h"
#include "bench/clock.h"

#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

namespace bench {

// The kernel stamps received data with CLOCK_REALTIME; the generator's clock is
// CLOCK_MONOTONIC. Their offset, read once, converts one to the other.
ConnReads::ConnReads() : buffer_(64 * 1024)
{
    timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    uint64_t mono = now_ns();
    realtime_offset_ =
        static_cast<int64_t>(rt.tv_sec * 1000000000ll + rt.tv_nsec) - static_cast<int64_t>(mono);
}

uint64_t ConnReads::to_monotonic(const timespec& realtime) const
{
    return static_cast<uint64_t>(realtime.tv_sec * 1000000000ll + realtime.tv_nsec -
                                 realtime_offset_);
}

Conn::Conn(struct ev_loop* loop, ConnReads& reads, Handler& handler)
    : loop_(loop), reads_(reads), handler_(handler)
{
    ev_init(&read_w_, on_read);
    ev_init(&write_w_, on_write);
    read_w_.data = this;
    write_w_.data = this;
}

Conn::~Conn() { close(false); }

bool Conn::connect(const sockaddr* to, socklen_t len, int rcvbuf)
{
    int fd = socket(to->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // Arrival times from the kernel: latency is measured to when the server's line
    // reached this socket, not to when this busy generator got round to reading it.
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    if (rcvbuf > 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
        // And an Ethernet path's segment size: with the loopback's 64 KiB one the
        // server's kernel grows its send buffer to megabytes for a reader that has
        // stopped, and hides the stall from the server under test for minutes.
        int mss = 1460;
        setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss);
    }
    if (::connect(fd, to, len) != 0 && errno != EINPROGRESS) {
        int err = errno;
        ::close(fd);
        errno = err;
        return false;
    }
    fd_ = fd;
    connecting_ = true;
    ev_io_set(&read_w_, fd_, EV_READ);
    ev_io_set(&write_w_, fd_, EV_WRITE);
    update_watchers();
    return true;
}

void Conn::update_watchers()
{
    if (fd_ < 0)
        return;
    // Before the connect completes only writability (its completion) matters.
    bool want_read = reading_ && !connecting_;
    bool want_write = connecting_ || unsent() > 0;
    if (want_read && !ev_is_active(&read_w_))
        ev_io_start(loop_, &read_w_);
    else if (!want_read && ev_is_active(&read_w_))
        ev_io_stop(loop_, &read_w_);
    if (want_write && !ev_is_active(&write_w_))
        ev_io_start(loop_, &write_w_);
    else if (!want_write && ev_is_active(&write_w_))
        ev_io_stop(loop_, &write_w_);
}

void Conn::on_write(struct ev_loop*, ev_io* w, int)
{
    Conn& c = *static_cast<Conn*>(w->data);
    if (!c.connecting_) {
        c.flush();
        return;
    }
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c.fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
        c.fail(strerror(err));
        return;
    }
    c.connecting_ = false;
    c.update_watchers();
    c.handler_.connected(c);
    if (c.is_open())
        c.flush();
}

void Conn::on_read(struct ev_loop*, ev_io* w, int) { static_cast<Conn*>(w->data)->read_some(); }

void Conn::read_some()
{
    iovec iov{reads_.buffer(), reads_.buffer_size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(fd_, &msg, 0);
    if (n > 0) {
        uint64_t now = now_ns();
        uint64_t arrived = now;
        cmsghdr* cm = CMSG_FIRSTHDR(&msg);
        if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
            timespec ts;
            memcpy(&ts, CMSG_DATA(cm), sizeof ts);
            arrived = reads_.to_monotonic(ts);
            // Clocks read a few ns apart: never after the read, never absurdly early.
            if (arrived > now || now - arrived > 60000000000u)
                arrived = now;
        }
        reads_.waits.record(now - arrived);
        handler_.data(*this, reads_.buffer(), static_cast<size_t>(n), arrived);
    } else if (n == 0) {
        fail("closed by the server");
    } else if (errno != EAGAIN && errno != EINTR) {
        fail(strerror(errno));
    }
}

void Conn::flush()
{
    if (fd_ < 0 || connecting_)
        return;
    while (sent_ < out_.size()) {
        ssize_t n = send(fd_, out_.data() + sent_, out_.size() - sent_, MSG_NOSIGNAL);
        if (n > 0) {
            sent_ += static_cast<size_t>(n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            // Drop what is written so the buffer does not grow while the socket is full.
            out_.erase(0, sent_);
            sent_ = 0;
            break;
        } else {
            fail(strerror(errno));
            return;
        }
    }
    if (sent_ == out_.size()) {
        out_.clear();
        sent_ = 0;
    }
    update_watchers();
}

void Conn::set_reading(bool on)
{
    reading_ = on;
    update_watchers();
}

void Conn::close(bool reset)
{
    if (fd_ < 0)
        return;
    if (reset) {
        linger lg{1, 0};
        setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    ev_io_stop(loop_, &read_w_);
    ev_io_stop(loop_, &write_w_);
    ::close(fd_);
    fd_ = -1;
    out_.clear();
    sent_ = 0;
}

void Conn::fail(const char* why)
{
    close(false);
    handler_.closed(*this, why);
}

std::string Conn::local_name() const
{
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (fd_ < 0 || getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
        return "";
    return format_address(reinterpret_cast<sockaddr*>(&ss));
}

}  // namespace bench
