// Connection: reads into the loop's buffer, one write per flush (a writev, or a send in the
// pass's ring), and the close sequence.
#include "connection.h"

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

namespace {

void set_active(struct ev_loop* loop, ev_io* w, bool active)
{
    if (active && !ev_is_active(w))
        ev_io_start(loop, w);
    else if (!active && ev_is_active(w))
        ev_io_stop(loop, w);
}

}  // namespace

// An idle watcher of the highest priority runs in every iteration it is active, before the
// sockets' callbacks, however busy they are, and keeps the loop from sleeping meanwhile.
Io::Io(struct ev_loop* loop, Log& log) : loop(loop), log(log), buffer(new char[buffer_size])
{
    ev_idle_init(&next_w_, on_next);
    ev_set_priority(&next_w_, EV_MAXPRI);
    next_w_.data = this;
}

Io::~Io()
{
    ev_idle_stop(loop, &next_w_);
}

// Connections are destroyed only by their owners' sweeps, after the callbacks (never in
// on_next's walk), and forget themselves first.
void Io::read_next(Connection& c)
{
    next_.push_back(&c);
    ev_idle_start(loop, &next_w_);
}

void Io::forget(Connection& c)
{
    next_.erase(std::remove(next_.begin(), next_.end(), &c), next_.end());
}

bool Io::take_step()
{
    constexpr unsigned steps_always = 2;
    constexpr double budget = 0.002;
    unsigned now = ev_iteration(loop);
    if (now != step_iteration_) {
        step_iteration_ = now;
        steps_ = 0;
    }
    // ev_now is when the loop woke: the iteration has run since then.
    if (steps_ >= steps_always && ev_time() - ev_now(loop) > std::max(budget, last_busy_ / 4))
        return false;
    steps_++;
    return true;
}

void Io::on_next(struct ev_loop* loop, ev_idle* w, int)
{
    auto* self = static_cast<Io*>(w->data);
    std::vector<Connection*> now;
    now.swap(self->next_);
    ev_idle_stop(loop, w);  // a read now that asks for the next iteration starts it again
    for (Connection* c : now)
        c->read_again();
}

Socket& Socket::operator=(Socket&& o) noexcept
{
    if (this != &o) {
        Socket gone(std::move(*this));
        fd_ = o.fd_;
        tls_ = std::move(o.tls_);
        o.fd_ = -1;
    }
    return *this;
}

Socket::~Socket()
{
    tls_.reset();
    if (fd_ >= 0)
        close(fd_);
}

Connection::Connection(Io& io, Socket socket, std::string peer)
    : io_(io), socket_(std::move(socket)), peer_(std::move(peer))
{
    int fd = socket_.fd();
    handshake_done_ = socket_.tls() && socket_.tls()->handshake_done();
    ev_io_init(&read_w_, on_read, fd, EV_READ);
    ev_io_init(&write_w_, on_write, fd, EV_WRITE);
    ev_init(&timer_, on_timer);
    read_w_.data = write_w_.data = timer_.data = this;
}

Connection::~Connection()
{
    assert(!in_ring_);
    if (read_next_)
        io_.forget(*this);
    ev_io_stop(io_.loop, &read_w_);
    ev_io_stop(io_.loop, &write_w_);
    ev_timer_stop(io_.loop, &timer_);
}

Socket Connection::release()
{
    assert(!in_ring_);
    close_now("");
    return std::move(socket_);
}

void Connection::on_read(struct ev_loop*, ev_io* w, int)
{
    static_cast<Connection*>(w->data)->read_input();
}

void Connection::on_write(struct ev_loop*, ev_io* w, int)
{
    auto* self = static_cast<Connection*>(w->data);
    if (self->read_wants_write_ && self->wants_read())
        self->read_input();  // the read says again what it waits for, or waits for its turn
    self->flush();
}

void Connection::read_again()
{
    read_next_ = false;
    if (wants_read())
        read_input();
    else
        update_interest();
}

void Connection::on_timer(struct ev_loop*, ev_timer* w, int)
{
    auto* self = static_cast<Connection*>(w->data);
    if (self->state_ == State::open)
        self->timed_out();
    else
        self->close_now("drain timeout");
}

void Connection::start_timer(double seconds)
{
    ev_timer_stop(io_.loop, &timer_);
    ev_timer_set(&timer_, seconds, 0.0);
    ev_timer_start(io_.loop, &timer_);
}

void Connection::stop_timer()
{
    ev_timer_stop(io_.loop, &timer_);
}

// One read per wakeup, into the loop's shared buffer: a flooding peer gets one buffer per
// loop iteration like everyone else, and an idle one holds no read buffer at all.
void Connection::read_input()
{
    char* buf = io_.buffer.get();
    size_t want = state_ == State::open ? read_size() : Io::buffer_size;
    if (want == 0) {
        // Not in this iteration: it waits in line for the next, in the order it came
        // (a socket left readable would be served in whatever order the kernel reports it,
        // and under a storm some would wait past their deadline).
        if (!read_next_) {
            read_next_ = true;
            io_.read_next(*this);
        }
        update_interest();
        return;
    }
    if (state_ == State::open && socket_.tls()) {
        read_tls(buf, want);
        return;
    }
    ssize_t n = read(socket_.fd(), buf, want);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n > 0) {
        if (state_ == State::open)
            received(buf, static_cast<size_t>(n));
        else
            finish_closing();  // input is read only to be discarded (over TLS, undecrypted)
        return;
    }
    bool reset = n < 0;
    if (reset)
        io_.log.write(LogLevel::debug, "%s read: %s", peer_.c_str(), strerror(errno));
    input_ended_ = true;
    if (state_ == State::open)
        input_ended(reset);
    else
        finish_closing();
}

// Reading also drives the handshake, and what it read may end with the peer's close: the
// plaintext goes first, then the news.
void Connection::read_tls(char* buf, size_t want)
{
    TlsSession& tls = *socket_.tls();
    TlsSession::Result r = tls.read(buf, want);
    read_wants_write_ = r.wait == TlsSession::Wait::writable;
    bool secured = !handshake_done_ && tls.handshake_done();
    if (secured) {
        handshake_done_ = true;
        io_.log.write(LogLevel::debug, "%s TLS handshake done (%s)", peer_.c_str(), tls.describe().c_str());
    }
    if (r.bytes > 0)
        received(buf, r.bytes);
    if (state_ != State::open)
        return;
    if (secured)
        handshake_done();
    if (state_ != State::open)
        return;
    if (r.ended || r.failed) {
        if (r.failed && handshake_done_)  // a failed handshake is its gate's to log
            io_.log.write(LogLevel::debug, "%s TLS: %s", peer_.c_str(), tls.why().c_str());
        input_ended_ = true;
        input_ended(r.failed);
        return;
    }
    update_interest();
}

bool Connection::input_waiting() const
{
    if (socket_.tls() && socket_.tls()->buffered())
        return true;
    char c;
    return recv(socket_.fd(), &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

// What to write next: the log's bytes, or over TLS the record kept from them (sealed for
// the ring, or what the socket did not take of one written through; a new one only once
// that is sent). Through, count 0 says the socket took a new record whole. false: the
// session failed, and the connection is closed.
bool Connection::gather(iovec* iov, size_t& count, bool through)
{
    TlsSession* tls = socket_.tls();
    if (!tls) {
        count = out_.fill(iov, WriteRing::max_iov);
        return true;
    }
    if (!tls->owes()) {
        size_t plain = out_.fill(iov, WriteRing::max_iov);
        TlsSession::Result r = tls->seal(iov, plain, through);
        assert(r.failed || r.bytes > 0);
        if (r.bytes > 0) {
            out_.consume(r.bytes);
            written(r.bytes);
        }
        if (r.failed) {
            io_.log.write(LogLevel::debug, "%s TLS write: %s", peer_.c_str(), tls->why().c_str());
            write_error();
            return false;
        }
    }
    count = tls->unsent(iov);
    return true;
}

// The outcome of a write of `offered` bytes (or -errno): what went out is consumed, a
// short write or EAGAIN waits for the socket, an error puts the peer out (false).
bool Connection::wrote(ssize_t result, size_t offered)
{
    if (result == -EAGAIN) {
        write_blocked_ = true;
        return true;
    }
    if (result < 0) {
        io_.log.write(LogLevel::debug, "%s write: %s", peer_.c_str(), strerror(static_cast<int>(-result)));
        write_error();
        return false;
    }
    size_t n = static_cast<size_t>(result);
    if (TlsSession* tls = socket_.tls()) {
        tls->sent(n);
    } else if (n > 0) {
        out_.consume(n);
        written(n);
    }
    write_blocked_ = n < offered;
    return true;
}

// Writes what is owed until it is all out or the socket blocks.
void Connection::write_owed()
{
    while (owes_output() && !write_blocked_) {
        iovec iov[WriteRing::max_iov];
        size_t count;
        if (!gather(iov, count, true))
            return;
        if (count == 0)
            continue;  // a TLS record, written whole on its way through
        size_t offered = 0;
        for (size_t i = 0; i < count; i++)
            offered += iov[i].iov_len;
        ssize_t n;
        do
            n = writev(socket_.fd(), iov, static_cast<int>(count));
        while (n < 0 && errno == EINTR);
        if (!wrote(n < 0 ? -errno : n, offered))
            return;
    }
}

void Connection::write_error()
{
    if (state_ == State::open)
        write_failed();
    else
        close_now("write error");
}

void Connection::writes_done()
{
    if (state_ == State::closed)
        return;
    if (!owes_output())
        write_blocked_ = false;
    if (state_ == State::open)
        flushed();
    if (state_ == State::closing)
        finish_closing();
    update_interest();
}

// In the flush pass with a ring, the send joins the pass's submission: its iovecs are
// gathered now, and the ring hands back the result (sent_by_ring).
void Connection::flush()
{
    if (state_ == State::closed || in_ring_)
        return;
    write_blocked_ = false;  // the caller writes when the socket may take more
    WriteRing* ring = io_.ring.get();
    if (ring && ring->batching() && owes_output()) {
        iovec* iov = ring->add(*this);
        if (state_ == State::closed)
            return;  // the batch that ran to make room put this connection out
        size_t count;
        if (!gather(iov, count, false))
            return;
        assert(count > 0);
        ring->commit(socket_.fd(), count);
        in_ring_ = true;
        return;
    }
    write_owed();
    writes_done();
}

void Connection::sent_by_ring(int result, size_t offered)
{
    assert(in_ring_);
    in_ring_ = false;
    if (state_ == State::closed)
        return;  // put out while its send was under way: what it took is lost with it
    if (!wrote(result, offered))
        return;
    write_owed();  // what one send could not hold (past 64 iovecs, a TLS record's next): directly
    writes_done();
}

void Connection::close_after_output(double seconds)
{
    if (state_ != State::open)
        return;
    state_ = State::closing;
    start_timer(seconds);
    update_interest();
}

// Closed once the output is written and the input is over; called again by each read
// while the peer is still sending.
void Connection::finish_closing()
{
    assert(state_ == State::closing);
    if (owes_output())
        return;
    if (!shut_write_) {
        notify_blocked_ = socket_.tls() && !socket_.tls()->close_notify();
        if (notify_blocked_)
            return;  // the write watcher brings us back
        ::shutdown(socket_.fd(), SHUT_WR);
        shut_write_ = true;
    }
    while (!input_ended_) {
        ssize_t n = read(socket_.fd(), io_.buffer.get(), Io::buffer_size);
        if (n > 0)
            return;  // more is coming: the read watcher brings us back
        if (n < 0 && errno == EINTR)
            continue;
        input_ended_ = true;  // EOF, error, or nothing waiting (EAGAIN): close is clean now
    }
    close_now("");
}

void Connection::close_now(const char* why)
{
    if (state_ == State::closed)
        return;
    if (why[0] != '\0')
        io_.log.write(LogLevel::debug, "%s closed (%s)", peer_.c_str(), why);
    state_ = State::closed;
    ev_timer_stop(io_.loop, &timer_);
    update_interest();
    closed_now();
}

// The one place that decides which watchers run.
void Connection::update_interest()
{
    bool want_read = wants_read();
    // A backlog skipped (the drop policy) may leave nothing to wait for.
    if (write_blocked_ && !owes_output())
        write_blocked_ = false;
    // Input OpenSSL read ahead (or was given before the handshake) is announced by no
    // readiness of the socket: it is read in the next iteration instead, as the socket's
    // next read would be, and in that iteration it is this connection's one read.
    if (want_read && !read_next_ && state_ == State::open && socket_.tls() && socket_.tls()->buffered()) {
        read_next_ = true;
        io_.read_next(*this);
    }
    bool want_write =
        state_ != State::closed && (write_blocked_ || notify_blocked_ || (read_wants_write_ && want_read));
    set_active(io_.loop, &read_w_, want_read && !read_next_);
    set_active(io_.loop, &write_w_, want_write);
    assert(state_ != State::closed || (!ev_is_active(&read_w_) && !ev_is_active(&write_w_)));
}

// Open, the subclass says whether it takes input; closing, input is read only to be
// discarded until it ends.
bool Connection::wants_read() const
{
    if (state_ == State::open)
        return !input_ended_ && wants_input();
    return state_ == State::closing && !input_ended_;
}
