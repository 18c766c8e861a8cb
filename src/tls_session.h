// TLS session: one connection's OpenSSL state on the loop — the handshake, the plaintext
// read from its records and the records sealed from what it is owed, which the connection
// sends as it sends plain bytes. Owned by the connection's Socket.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <sys/uio.h>

typedef struct ssl_st SSL;
struct TlsTransport;

// The reason of the first error in OpenSSL's queue ("wrong version number", "no start
// line"), or fallback; the queue is cleared.
std::string openssl_reason(const char* fallback);

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

    // A session for ssl (in server state) on the connected non-blocking socket fd; early:
    // bytes read from the socket before the session began. Null, ssl freed, when OpenSSL
    // has no memory for its transport.
    static std::unique_ptr<TlsSession> accept(SSL* ssl, int fd, std::string early);
    ~TlsSession();
    TlsSession(const TlsSession&) = delete;
    TlsSession& operator=(const TlsSession&) = delete;

    // Up to n bytes of plaintext; while the handshake is unfinished, reading drives it.
    Result read(char* buf, size_t n);
    // Encrypts one record (up to 16 KiB) of what iov holds; bytes: the plaintext taken.
    // Through: writes it to the socket, keeping what the socket does not take; else keeps
    // it all, for a send in the flush pass's ring. The connection sends what is kept
    // (unsent()): one record at most, as a blocked client holds no more than that beyond
    // its backlog. Records OpenSSL writes on its own while kept bytes wait (an alert, a
    // key update) queue behind them.
    Result seal(const iovec* iov, size_t count, bool through);
    // The kept bytes not sent yet, as one iovec; 0 when there are none.
    size_t unsent(iovec* iov) const;
    // n of them went out.
    void sent(size_t n);
    size_t unsent_bytes() const;
    bool owes() const { return unsent_bytes() > 0; }
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
    TlsSession(SSL* ssl, TlsTransport& transport, bool early);
    Result outcome(int ret, Result r);

    SSL* ssl_;
    TlsTransport& transport_;  // owned by ssl_, through its BIO
    bool unread_;
    std::string why_;
};
