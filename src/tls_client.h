// TLS client: OpenSSL 3's client end, as evchat-cat, --healthcheck and evchat-bench speak it.
// Each tool owns one TlsClient (the SSL_CTX); a TlsStream owns one SSL, never its socket.
#pragma once

#include <openssl/types.h>
#include <string>

// What every connection of one tool shares: TLS 1.2 or later, and whether the server
// must prove who it is.
class TlsClient {
public:
    // verify: the server's chain must lead to a certificate of the system's store
    // (SSL_CERT_FILE or SSL_CERT_DIR stand in for it) and name the host asked for.
    // Without it anything is accepted: encryption without authentication, for a test,
    // a benchmark or the health check of a server with a self-signed certificate.
    explicit TlsClient(bool verify);
    ~TlsClient();
    TlsClient(const TlsClient&) = delete;
    TlsClient& operator=(const TlsClient&) = delete;

    // False if the context could not be made; error() says why.
    bool ok() const { return ctx_ != nullptr; }
    const std::string& error() const { return error_; }
    bool verifies() const { return verify_; }
    SSL_CTX* ctx() const { return ctx_; }

private:
    SSL_CTX* ctx_ = nullptr;
    bool verify_;
    std::string error_;
};

// The client end of one TLS connection over a connected non-blocking socket. Each call
// does what it can now and says what it waits for; only handshake_within() waits.
class TlsStream {
public:
    enum class Io {
        done,        // progress: the handshake finished, bytes were read or written
        want_read,   // nothing now: call again once the socket is readable
        want_write,  // ... once it is writable (TLS may write while reading, and read while writing)
        closed,      // the server ended the session (close_notify, or its end of the TCP stream)
        failed,      // error() says why; the stream is dead
    };

    // host: the server's name, sent as SNI (unless it is an IP address) and checked in
    // its certificate when the client verifies. io: the BIO to speak through, taken
    // (the load generator's times its reads), or null for the socket itself.
    TlsStream(const TlsClient& client, int fd, const std::string& host, BIO* io = nullptr);
    ~TlsStream();
    TlsStream(const TlsStream&) = delete;
    TlsStream& operator=(const TlsStream&) = delete;

    Io handshake();
    // The handshake, polling the socket for at most `seconds`; false with error() set.
    bool handshake_within(double seconds);
    // Decrypted bytes into buf (at most cap); got is their count after done.
    Io read(char* buf, size_t cap, size_t& got);
    // Encrypts some of [p, p + len) (partial writes allowed); put is how much after done.
    // The same bytes must be offered again after a want.
    Io write(const char* p, size_t len, size_t& put);
    // Sends close_notify: the server sees the end of our data, and we can still read.
    Io close_notify();
    // Bytes received but not yet read out: read() can give more with nothing new on the
    // socket, so a caller must not wait for readability before it asks again.
    bool pending() const;
    const std::string& error() const { return error_; }
    int fd() const { return fd_; }
    // The poll(2) events a want waits for (POLLIN or POLLOUT; 0 for the others).
    static short poll_events(Io io);

private:
    Io result(int rc);

    SSL* ssl_ = nullptr;
    int fd_;
    std::string error_;
};
