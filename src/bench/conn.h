// Conn: one non-blocking TCP connection on the loop, and the read state all of them share.
// A Conn is owned by its Peer; the ConnReads it reads into is owned by the Session.
#pragma once

#include "bench/histogram.h"

#include <cstdint>
#include <ctime>
#include <ev.h>
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
// clients are interactive.
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
    // and an MSS of 1460.
    // False, with errno set, if the socket cannot even be started.
    bool connect(const sockaddr* to, socklen_t len, int rcvbuf);
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
    static void on_read(struct ev_loop* loop, ev_io* w, int revents);
    static void on_write(struct ev_loop* loop, ev_io* w, int revents);
    void read_some();
    void fail(const char* why);
    void update_watchers();

    struct ev_loop* loop_;
    ConnReads& reads_;
    Handler& handler_;
    int fd_ = -1;
    bool connecting_ = false;
    bool reading_ = true;
    std::string out_;
    size_t sent_ = 0;  // bytes of out_ already written
    ev_io read_w_;
    ev_io write_w_;
};

}  // namespace bench
