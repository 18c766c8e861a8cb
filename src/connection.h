// Connection: one accepted socket on the loop — its reads, its writes from what it is owed,
// and the close that lets the last bytes arrive. Chat clients, admin exchanges and refusals
// are subclasses; each is owned by whoever accepted it, and never destroys itself.
#pragma once

#include "log.h"
#include "room_log.h"

#include <cstddef>
#include <ev.h>
#include <memory>
#include <string>

// What every connection of one loop shares: the loop, the log, and one read buffer (the
// loop runs one callback at a time, so reads never overlap). Owned by the server.
struct Io {
    static constexpr size_t buffer_size = 64 * 1024;

    Io(struct ev_loop* loop, Log& log) : loop(loop), log(log), buffer(new char[buffer_size]) {}

    struct ev_loop* loop;
    Log& log;
    std::unique_ptr<char[]> buffer;
};

//   open --(close_after_output)--> closing --(output written, write side shut, input drained)--> closed
//   open, closing --(close_now: peer gone, deadline)----------------------------------------> closed
// Closing with the peer's input unread would make the kernel send RST and throw away what
// is still in flight to it (a farewell error among it), hence the write side is shut first
// and the input drained.
class Connection {
public:
    Connection(Io& io, int fd, std::string peer);
    virtual ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // The peer's address, as Go prints it.
    const std::string& peer() const { return peer_; }
    bool closed() const { return state_ == State::closed; }
    bool closing() const { return state_ == State::closing; }

    // Writes as much of what is owed as the socket takes now; the rest when it can.
    void flush();
    // The socket took less than it was offered: the rest waits for it to drain.
    bool write_blocked() const { return write_blocked_; }
    // Takes no more input; writes what is owed within `seconds`, then shuts the write side,
    // drains the input and closes.
    void close_after_output(double seconds);
    // Closes now; what is owed is lost. why ("" for none) is logged at debug.
    void close_now(const char* why);
    // Whether input not yet read waits on the socket.
    bool input_waiting() const;
    // Gives the socket up, open, for another connection to own; this one is closed.
    int release();

protected:
    RoomLog::Reader& out() { return out_; }
    const RoomLog::Reader& out() const { return out_; }
    Io& io() const { return io_; }
    // Derives which watchers run from the state, the subclass's wants_input() and the
    // socket; call it whenever one of them may have changed.
    void update_interest();
    // A timer of the subclass's while open (a deadline, a limit's clock); timed_out() says
    // when it fires. Closing uses it for its own deadline.
    void start_timer(double seconds);
    void stop_timer();
    bool timer_running() const { return ev_is_active(&timer_); }
    double timer_left() { return ev_timer_remaining(io_.loop, &timer_); }

    // The subclass's side. While open: how many bytes to read now at most, whether to read
    // at all, what arrived, and the end of input (reset: by an error, not EOF).
    virtual size_t read_size() { return Io::buffer_size; }
    virtual bool wants_input() const = 0;
    virtual void received(const char* data, size_t n) = 0;
    virtual void input_ended(bool reset) = 0;
    virtual void timed_out() {}
    // n bytes went out; then, after each flush, the backlog may have changed.
    virtual void written(size_t) {}
    virtual void flushed() {}
    // A write failed while open: the peer is gone. The subclass closes.
    virtual void write_failed() { close_now("write error"); }
    // Closed: the owner may destroy the connection, once the current callback is over.
    virtual void closed_now() = 0;

private:
    enum class State { open, closing, closed };

    static void on_read(struct ev_loop* loop, ev_io* w, int revents);
    static void on_write(struct ev_loop* loop, ev_io* w, int revents);
    static void on_timer(struct ev_loop* loop, ev_timer* w, int revents);
    void read_input();
    void finish_closing();

    Io& io_;
    int fd_;
    State state_ = State::open;
    bool input_ended_ = false;
    bool write_blocked_ = false;
    bool shut_write_ = false;
    std::string peer_;
    RoomLog::Reader out_;
    ev_io read_w_;
    ev_io write_w_;
    ev_timer timer_;
};
