// Connection: one accepted socket on the loop — its reads, its writes from what it is owed,
// and the close that lets the last bytes arrive. Chat clients, admin exchanges and refusals
// are subclasses; each is owned by whoever accepted it, and never destroys itself.
#pragma once

#include "log.h"
#include "room_log.h"
#include "tls_session.h"
#include "write_ring.h"

#include <cstddef>
#include <ev.h>
#include <memory>
#include <string>
#include <vector>

class Connection;

// What every connection of one loop shares: the loop, the log, one read buffer (the loop
// runs one callback at a time, so reads never overlap), the reads put off to the next
// iteration (input no readiness of a socket will announce, such as TLS records read
// ahead, and handshakes waiting their turn), and the handshakes' budget. Owned by the
// server.
class Io {
public:
    static constexpr size_t buffer_size = 64 * 1024;

    Io(struct ev_loop* loop, Log& log);
    ~Io();
    Io(const Io&) = delete;
    Io& operator=(const Io&) = delete;

    // c reads again in the next loop iteration, among the first callbacks.
    void read_next(Connection& c);
    // c is going away: it reads no more.
    void forget(Connection& c);
    // Whether a step of work that can wait (a TLS handshake's, up to a millisecond of CPU)
    // may run now: two in each loop iteration, then more while the iteration has run for
    // less than 2 ms, or a quarter of the last iteration's length when iterations are long
    // (a flush of arrivals to thousands): handshakes never stall the loop, and a busy
    // loop never starves them. The steps put off wait in line, oldest first (read_next),
    // for the next iteration, which comes at once, having served everyone else in between.
    bool take_step();
    // The server's flush pass, last in each iteration: it ran for busy seconds.
    void iteration_ran(double busy) { last_busy_ = busy; }

    struct ev_loop* const loop;
    Log& log;
    std::unique_ptr<char[]> buffer;
    // The flush pass's writes, where io_uring is set up ([server] io_uring): while it
    // batches, a connection's flush adds a send to it instead of writing.
    std::unique_ptr<WriteRing> ring;

private:
    static void on_next(struct ev_loop* loop, ev_idle* w, int revents);

    std::vector<Connection*> next_;
    ev_idle next_w_;
    unsigned step_iteration_ = 0;  // the loop iteration of the last step taken
    unsigned steps_ = 0;           // steps taken in it
    double last_busy_ = 0;         // seconds the last iteration ran
};

// A connected socket and, over TLS, its session: what passes from one owner to the next (a
// gate, an HTTP exchange, a client). Closes what it still holds.
class Socket {
public:
    Socket() = default;
    explicit Socket(int fd, std::unique_ptr<TlsSession> tls = nullptr) : fd_(fd), tls_(std::move(tls)) {}
    Socket(Socket&& o) noexcept : fd_(o.fd_), tls_(std::move(o.tls_)) { o.fd_ = -1; }
    Socket& operator=(Socket&& o) noexcept;
    ~Socket();

    int fd() const { return fd_; }
    TlsSession* tls() const { return tls_.get(); }
    // From now on the socket speaks through tls.
    void attach(std::unique_ptr<TlsSession> tls) { tls_ = std::move(tls); }

private:
    int fd_ = -1;
    std::unique_ptr<TlsSession> tls_;  // before the descriptor closes: it may still write
};

//   open --(close_after_output)--> closing --(output written, write side shut, input drained)--> closed
//   open, closing --(close_now: peer gone, deadline)----------------------------------------> closed
// Closing with the peer's input unread would make the kernel send RST and throw away what
// is still in flight to it (a farewell error among it), hence the write side is shut first
// and the input drained. Over TLS the shutdown is preceded by close_notify, and the input
// drained is whatever bytes still come, undecrypted.
class Connection {
public:
    Connection(Io& io, Socket socket, std::string peer);
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
    // Bytes owed and not yet sent: the reader's backlog and, over TLS, a record sealed.
    uint64_t owed() const { return out_.pending() + (socket_.tls() ? socket_.tls()->unsent_bytes() : 0); }
    // Takes no more input; writes what is owed within `seconds`, then shuts the write side,
    // drains the input and closes.
    void close_after_output(double seconds);
    // Closes now; what is owed is lost. why ("" for none) is logged at debug.
    void close_now(const char* why);
    // Whether input not yet read waits on the socket.
    bool input_waiting() const;
    // Gives the socket up, open, for another connection to own; this one is closed.
    Socket release();
    // Io::read_next's call: reads if it still wants to.
    void read_again();
    // The ring's call: the send it made of `offered` bytes took result (bytes, or -errno).
    void sent_by_ring(int result, size_t offered);
    bool tls() const { return socket_.tls() != nullptr; }

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
    TlsSession* tls_session() const { return socket_.tls(); }
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
    // Over TLS: the handshake is done (for the connection that saw it done).
    virtual void handshake_done() {}
    // Closed: the owner may destroy the connection, once the current callback is over.
    virtual void closed_now() = 0;

private:
    enum class State { open, closing, closed };

    static void on_read(struct ev_loop* loop, ev_io* w, int revents);
    static void on_write(struct ev_loop* loop, ev_io* w, int revents);
    static void on_timer(struct ev_loop* loop, ev_timer* w, int revents);

    void read_input();
    void read_tls(char* buf, size_t want);
    bool gather(iovec* iov, size_t& count, bool through);
    bool wrote(ssize_t result, size_t offered);
    void write_owed();
    void write_error();
    void writes_done();
    bool owes_output() const { return out_.pending() > 0 || (socket_.tls() && socket_.tls()->owes()); }
    bool wants_read() const;
    void finish_closing();

    Io& io_;
    Socket socket_;
    State state_ = State::open;
    bool input_ended_ = false;
    bool write_blocked_ = false;
    bool shut_write_ = false;
    bool read_wants_write_ = false;  // TLS: a read must write first (a handshake message)
    bool handshake_done_ = false;    // TLS: handshake_done() was said
    bool notify_blocked_ = false;    // TLS: close_notify waits for the socket
    bool read_next_ = false;         // TLS: in Io's list of reads for the next iteration
    bool in_ring_ = false;           // a send of this connection's waits in the ring
    std::string peer_;
    RoomLog::Reader out_;
    ev_io read_w_;
    ev_io write_w_;
    ev_timer timer_;
};
