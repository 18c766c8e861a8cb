// Conn: one non-blocking TCP connection on the loop, TLS over it if asked, and the read
// state all of them share. A Conn is owned by its Peer; its ConnReads by the Session.
#pragma once

#include "bench/histogram.h"
#include "tls_client.h"

#include <cstdint>
#include <ctime>
#include <ev.h>
#include <memory>
#include <string>
#include <sys/socket.h>
#include <vector>

namespace bench {

// What every connection of one loop reads with: one buffer for all (the loop runs one
// callback at a time, so reads never overlap), and a record of how long data waited.
class ConnReads {
public:
    ConnReads();
    ConnReads(const ConnReads&) = delete;
    ConnReads& operator=(const ConnReads&) = delete;

    char* buffer() { return buffer_.data(); }
    size_t buffer_size() const { return buffer_.size(); }
    // A kernel receive timestamp (CLOCK_REALTIME) on the now_ns() clock.
    uint64_t to_monotonic(const timespec& realtime) const;

    // For every read of every connection: how long the data waited in the socket
    // before this process read it. High when the generator is overloaded.
    Histogram waits;

private:
    std::vector<char> buffer_;
    int64_t realtime_offset_;  // CLOCK_REALTIME - CLOCK_MONOTONIC, read at construction
};

// Connect, buffered writes, reads handed to its owner. TCP_NODELAY, as the server's
// clients are interactive. Over TLS the owner sees the same: connected() once the
// handshake is done, and the decrypted bytes, stamped with the kernel's arrival time of
// the read that completed them (TLS reads the socket through recvmsg here too).
class Conn {
public:
    // What the owner hears. `closed` is only for ends the connection did not ask for
    // (a failed connect, EOF, an error); close() says nothing.
    class Handler {
    public:
        virtual void connected(Conn& c) = 0;
        // Bytes just read, and when they reached the socket (the kernel's receive
        // timestamp on the now_ns() clock; now_ns() if the kernel gave none).
        virtual void data(Conn& c, const char* p, size_t n, uint64_t arrived) = 0;
        virtual void closed(Conn& c, const char* why) = 0;

    protected:
        ~Handler() = default;
    };

    // reads must outlive the Conn.
    Conn(struct ev_loop* loop, ConnReads& reads, Handler& handler);
    ~Conn();
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;

    // Starts connecting; rcvbuf > 0 sets SO_RCVBUF first (before the window is agreed),
    // and an MSS of 1460; tls: speak TLS, with this client's settings (it must outlive
    // the connection), or plain TCP if null.
    // False, with errno set, if the socket cannot even be started.
    bool connect(const sockaddr* to, socklen_t len, int rcvbuf, const TlsClient* tls);
    // Output is appended here, then written by flush() (before connected: on connect).
    std::string& out() { return out_; }
    // Writes what the socket takes now; the rest when it becomes writable.
    void flush();
    size_t unsent() const { return out_.size() - sent_; }
    // A client that stops reading: the server's output to it backs up.
    void set_reading(bool on);
    // Closes; reset sends an RST (SO_LINGER 0) instead of a FIN.
    void close(bool reset);
    bool is_open() const { return fd_ >= 0; }
    // This end's address as the server prints its peer ("127.0.0.1:54321").
    std::string local_name() const;

private:
    using Io = TlsStream::Io;

    static void on_read(struct ev_loop* loop, ev_io* w, int revents);
    static void on_write(struct ev_loop* loop, ev_io* w, int revents);
    // One recvmsg into buf, its arrival time in arrived_; as recvmsg returns.
    ssize_t receive(char* buf, size_t cap);
    Io send_some(size_t& sent);
    void read_some();
    void read_tls();
    void handshake();
    void fail(const char* why);
    void update_watchers();
    // The BIO through which TLS uses the socket: receive() and send_some().
    static BIO* make_bio(Conn& c);

    struct ev_loop* loop_;
    ConnReads& reads_;
    Handler& handler_;
    int fd_ = -1;
    bool connecting_ = false;
    bool reading_ = true;
    std::string out_;
    size_t sent_ = 0;  // bytes of out_ already written
    uint64_t arrived_ = 0;  // when the last bytes received reached the socket
    ev_io read_w_;
    ev_io write_w_;

    // TLS: the session, and what it waits for beyond reading and writing as usual.
    std::unique_ptr<TlsStream> tls_;
    bool handshaking_ = false;
    int handshake_waits_ = 0;        // EV_READ or EV_WRITE
    bool read_waits_write_ = false;  // a read needs the socket writable (TLS's own output)
    bool write_waits_read_ = false;  // a write needs it readable
};

}  // namespace bench
