// TLS session: one connection's OpenSSL state on the loop — the handshake, the plaintext
// read from its records and the records written from what it is owed. Owned by the
// connection's Socket.
#pragma once

#include <cstddef>
#include <string>
#include <sys/uio.h>

typedef struct ssl_st SSL;

class TlsSession {
public:
    // What a read or write left to wait for.
    enum class Wait { none, readable, writable };
    // The outcome of one call: bytes moved, then what stopped it.
    struct Result {
        size_t bytes = 0;
        Wait wait = Wait::none;
        bool ended = false;   // read: the peer closed the stream (close_notify or EOF)
        bool failed = false;  // the session is broken; why() says how
    };

    // Takes ssl, in server (accept) state on a connected non-blocking socket; early: its
    // transport holds bytes read from the socket before the session began.
    TlsSession(SSL* ssl, bool early);
    ~TlsSession();
    TlsSession(const TlsSession&) = delete;
    TlsSession& operator=(const TlsSession&) = delete;

    // Up to n bytes of plaintext; while the handshake is unfinished, reading drives it.
    Result read(char* buf, size_t n);
    // Encrypts what iov holds in full records and writes them. Its bytes count as taken
    // once in a record, including a record the socket did not take yet: the session holds
    // that one (held()) and writes it first next time.
    Result write(const iovec* iov, size_t count);
    // Bytes of a record the socket has not taken yet.
    bool held() const { return !held_.empty(); }
    // Whether input may wait inside the session, where no readiness of the socket will
    // announce it: bytes taken before the session began, or records left when the last
    // read() stopped at its size rather than for want of input. (A partial record that
    // OpenSSL read ahead does not count: only the socket can complete it.)
    bool buffered() const { return unread_; }
    bool handshake_done() const;
    // Says close_notify; false while the socket cannot take it yet.
    bool close_notify();
    // The last failure, for a debug line.
    const std::string& why() const { return why_; }
    // The protocol and cipher agreed, for a debug line.
    std::string describe() const;

private:
    Result outcome(int ret, Result r);

    SSL* ssl_;
    std::string held_;  // a record's plaintext OpenSSL is still writing (empty: none)
    bool unread_;
    std::string why_;
};
