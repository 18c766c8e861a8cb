// Connection: reads into the loop's buffer, one writev per flush, and the close sequence.
#include "connection.h"

#include <cassert>
#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

namespace {

constexpr size_t max_iov = 64;

void set_active(struct ev_loop* loop, ev_io* w, bool active)
{
    if (active && !ev_is_active(w))
        ev_io_start(loop, w);
    else if (!active && ev_is_active(w))
        ev_io_stop(loop, w);
}

}  // namespace

Connection::Connection(Io& io, int fd, std::string peer) : io_(io), fd_(fd), peer_(std::move(peer))
{
    ev_io_init(&read_w_, on_read, fd_, EV_READ);
    ev_io_init(&write_w_, on_write, fd_, EV_WRITE);
    ev_init(&timer_, on_timer);
    read_w_.data = write_w_.data = timer_.data = this;
}

Connection::~Connection()
{
    ev_io_stop(io_.loop, &read_w_);
    ev_io_stop(io_.loop, &write_w_);
    ev_timer_stop(io_.loop, &timer_);
    if (fd_ >= 0)
        close(fd_);
}

int Connection::release()
{
    int fd = fd_;
    close_now("");
    fd_ = -1;
    return fd;
}

void Connection::on_read(struct ev_loop*, ev_io* w, int)
{
    static_cast<Connection*>(w->data)->read_input();
}

void Connection::on_write(struct ev_loop*, ev_io* w, int)
{
    static_cast<Connection*>(w->data)->flush();
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
    ssize_t n = read(fd_, buf, want);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n > 0) {
        if (state_ == State::open)
            received(buf, static_cast<size_t>(n));
        else
            finish_closing();  // input is read only to be discarded
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

bool Connection::input_waiting() const
{
    char c;
    return recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

void Connection::flush()
{
    if (state_ == State::closed)
        return;
    while (out_.pending() > 0) {
        iovec iov[max_iov];
        size_t count = out_.fill(iov, max_iov);
        size_t offered = 0;
        for (size_t i = 0; i < count; i++)
            offered += iov[i].iov_len;
        ssize_t n = writev(fd_, iov, static_cast<int>(count));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            write_blocked_ = true;
            break;
        }
        if (n < 0) {
            io_.log.write(LogLevel::debug, "%s write: %s", peer_.c_str(), strerror(errno));
            if (state_ == State::open)
                write_failed();
            else
                close_now("write error");
            return;
        }
        out_.consume(static_cast<size_t>(n));
        written(static_cast<size_t>(n));
        write_blocked_ = static_cast<size_t>(n) < offered;
        if (write_blocked_)
            break;
    }
    if (out_.pending() == 0)
        write_blocked_ = false;
    if (state_ == State::open)
        flushed();
    if (state_ == State::closing)
        finish_closing();
    update_interest();
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
    if (out_.pending() > 0)
        return;
    if (!shut_write_) {
        ::shutdown(fd_, SHUT_WR);
        shut_write_ = true;
    }
    while (!input_ended_) {
        ssize_t n = read(fd_, io_.buffer.get(), Io::buffer_size);
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

// The one place that decides which watchers run. Open, the subclass says whether it
// takes input; closing, input is read only to be discarded until it ends.
void Connection::update_interest()
{
    bool want_read = false;
    if (state_ == State::open)
        want_read = !input_ended_ && wants_input();
    else if (state_ == State::closing)
        want_read = !input_ended_;
    // A backlog skipped (the drop policy) may leave nothing to wait for.
    if (write_blocked_ && out_.pending() == 0)
        write_blocked_ = false;
    bool want_write = state_ != State::closed && write_blocked_;
    set_active(io_.loop, &read_w_, want_read);
    set_active(io_.loop, &write_w_, want_write);
    assert(state_ != State::closed || (!ev_is_active(&read_w_) && !ev_is_active(&write_w_)));
}
