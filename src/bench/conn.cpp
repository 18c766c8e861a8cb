// Conn: the shared read state, socket setup, the read and write watchers, TLS's socket
// BIO and its wants, and closing.
#include "bench/conn.h"

#include "address.h"
#include "bench/clock.h"

#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
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

bool Conn::connect(const sockaddr* to, socklen_t len, int rcvbuf, const TlsClient* tls)
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
    // No name: the generator checks no certificate, and its loopback server needs no SNI.
    if (tls)
        tls_ = std::make_unique<TlsStream>(*tls, fd_, "", make_bio(*this));
    ev_io_set(&read_w_, fd_, EV_READ);
    ev_io_set(&write_w_, fd_, EV_WRITE);
    update_watchers();
    return true;
}

void Conn::update_watchers()
{
    if (fd_ < 0)
        return;
    // Before the connect completes only writability (its completion) matters, and during
    // the TLS handshake only what the handshake waits for.
    bool ready = !connecting_ && !handshaking_;
    bool want_read = (ready && (reading_ || write_waits_read_)) || (handshaking_ && handshake_waits_ == EV_READ);
    bool want_write = connecting_ || (ready && (unsent() > 0 || read_waits_write_)) ||
                      (handshaking_ && handshake_waits_ == EV_WRITE);
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
    if (c.handshaking_) {
        c.handshake();
        return;
    }
    if (!c.connecting_) {
        if (c.read_waits_write_)
            c.read_tls();
        if (c.is_open())
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
    if (c.tls_) {
        c.handshaking_ = true;
        c.handshake();
        return;
    }
    c.update_watchers();
    c.handler_.connected(c);
    if (c.is_open())
        c.flush();
}

void Conn::handshake()
{
    Io io = tls_->handshake();
    if (io == Io::failed) {
        fail(("TLS handshake: " + tls_->error()).c_str());
        return;
    }
    if (io != Io::done) {
        handshake_waits_ = io == Io::want_read ? EV_READ : EV_WRITE;
        update_watchers();
        return;
    }
    handshaking_ = false;
    update_watchers();
    handler_.connected(*this);
    if (is_open())
        flush();
    // Reading ahead, the handshake may have taken the server's first bytes already.
    if (is_open() && tls_->pending())
        ev_feed_event(loop_, &read_w_, EV_READ);
}

void Conn::on_read(struct ev_loop*, ev_io* w, int) { static_cast<Conn*>(w->data)->read_some(); }

ssize_t Conn::receive(char* buf, size_t cap)
{
    iovec iov{buf, cap};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(fd_, &msg, 0);
    if (n > 0) {
        uint64_t now = now_ns();
        arrived_ = now;
        cmsghdr* cm = CMSG_FIRSTHDR(&msg);
        if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
            timespec ts;
            memcpy(&ts, CMSG_DATA(cm), sizeof ts);
            arrived_ = reads_.to_monotonic(ts);
            // Clocks read a few ns apart: never after the read, never absurdly early.
            if (arrived_ > now || now - arrived_ > 60000000000u)
                arrived_ = now;
        }
        reads_.waits.record(now - arrived_);
    }
    return n;
}

void Conn::read_some()
{
    if (fd_ < 0)
        return;  // closed after an event was fed
    if (handshaking_) {
        handshake();
        return;
    }
    if (write_waits_read_)
        flush();
    if (tls_) {
        if (is_open() && reading_)
            read_tls();
        return;
    }
    ssize_t n = receive(reads_.buffer(), reads_.buffer_size());
    if (n > 0)
        handler_.data(*this, reads_.buffer(), static_cast<size_t>(n), arrived_);
    else if (n == 0)
        fail("closed by the server");
    else if (errno != EAGAIN && errno != EINTR)
        fail(strerror(errno));
}

// Reads until TLS needs the socket again: bytes it holds already (read ahead, or more of
// a record than the buffer took) make the socket no more readable, so they are taken now.
void Conn::read_tls()
{
    read_waits_write_ = false;
    do {
        size_t n = 0;
        Io io = tls_->read(reads_.buffer(), reads_.buffer_size(), n);
        if (io == Io::done) {
            handler_.data(*this, reads_.buffer(), n, arrived_);
        } else if (io == Io::closed) {
            fail("closed by the server");
            return;
        } else if (io == Io::failed) {
            fail(("TLS: " + tls_->error()).c_str());
            return;
        } else {
            read_waits_write_ = io == Io::want_write;
            update_watchers();
            return;
        }
    } while (is_open() && reading_ && tls_->pending());
}

TlsStream::Io Conn::send_some(size_t& sent)
{
    for (;;) {
        ssize_t n = send(fd_, out_.data() + sent_, out_.size() - sent_, MSG_NOSIGNAL);
        if (n >= 0) {
            sent = static_cast<size_t>(n);
            return Io::done;
        }
        if (errno != EINTR)
            return errno == EAGAIN ? Io::want_write : Io::failed;
    }
}

void Conn::flush()
{
    if (fd_ < 0 || connecting_ || handshaking_)
        return;
    write_waits_read_ = false;
    while (sent_ < out_.size()) {
        size_t n = 0;
        Io io = tls_ ? tls_->write(out_.data() + sent_, out_.size() - sent_, n) : send_some(n);
        if (io == Io::done) {
            sent_ += n;
        } else if (io == Io::want_write || io == Io::want_read) {
            // Drop what is written so the buffer does not grow while the socket is full
            // (TLS takes the rest again from its new place: ACCEPT_MOVING_WRITE_BUFFER).
            write_waits_read_ = io == Io::want_read;
            out_.erase(0, sent_);
            sent_ = 0;
            break;
        } else {
            fail(tls_ ? ("TLS: " + tls_->error()).c_str() : strerror(errno));
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
    // What TLS read ahead while reading was off raises no event of the socket's.
    if (on && tls_ && tls_->pending() && !handshaking_)
        ev_feed_event(loop_, &read_w_, EV_READ);
}

void Conn::close(bool reset)
{
    if (fd_ < 0)
        return;
    if (reset) {
        linger lg{1, 0};
        setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    } else if (tls_ && !connecting_ && !handshaking_) {
        tls_->close_notify();  // TLS's goodbye; best effort: a full socket goes without
    }
    ev_io_stop(loop_, &read_w_);  // also drops an event fed but not yet handled
    ev_io_stop(loop_, &write_w_);
    tls_.reset();
    ::close(fd_);
    fd_ = -1;
    out_.clear();
    sent_ = 0;
    connecting_ = handshaking_ = read_waits_write_ = write_waits_read_ = false;
}

void Conn::fail(const char* why)
{
    close(false);
    handler_.closed(*this, why);
}

// TLS reads and writes the socket through these rather than OpenSSL's socket BIO, so that
// its reads keep the kernel's arrival stamp (receive()) as plain reads do.
BIO* Conn::make_bio(Conn& c)
{
    static BIO_METHOD* const method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "evchat-bench socket");
        BIO_meth_set_read_ex(m, [](BIO* b, char* buf, size_t cap, size_t* got) {
            BIO_clear_retry_flags(b);
            ssize_t n = static_cast<Conn*>(BIO_get_data(b))->receive(buf, cap);
            if (n > 0) {
                *got = static_cast<size_t>(n);
                return 1;
            }
            if (n == 0)
                BIO_set_flags(b, BIO_FLAGS_IN_EOF);  // BIO_eof(): the server's end, not an error
            else if (errno == EAGAIN || errno == EINTR)
                BIO_set_retry_read(b);
            return 0;
        });
        BIO_meth_set_write_ex(m, [](BIO* b, const char* p, size_t len, size_t* put) {
            BIO_clear_retry_flags(b);
            ssize_t n = send(static_cast<Conn*>(BIO_get_data(b))->fd_, p, len, MSG_NOSIGNAL);
            if (n >= 0) {
                *put = static_cast<size_t>(n);
                return 1;
            }
            if (errno == EAGAIN || errno == EINTR)
                BIO_set_retry_write(b);
            return 0;
        });
        BIO_meth_set_ctrl(m, [](BIO* b, int cmd, long, void*) -> long {
            if (cmd == BIO_CTRL_FLUSH)
                return 1;
            if (cmd == BIO_CTRL_EOF)
                return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0;
            return 0;
        });
        return m;
    }();
    BIO* bio = BIO_new(method);
    BIO_set_data(bio, &c);
    BIO_set_init(bio, 1);
    return bio;
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
