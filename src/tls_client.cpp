// TLS client: the context's settings, one stream's calls, and OpenSSL's errors in words.
#include "tls_client.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <poll.h>
#include <time.h>

namespace {

// The first error OpenSSL queued (the cause; later ones are its consequences), by its
// reason alone ("certificate verify failed"), and clears the queue. A failed check of
// the certificate says which check: "certificate verify failed: self-signed certificate".
std::string queued_error(const SSL* ssl = nullptr)
{
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0)
        return "";
    std::string text;
    if (const char* reason = ERR_reason_error_string(e)) {
        text = reason;
    } else {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        text = buf;
    }
    if (ssl && ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
        long verdict = SSL_get_verify_result(ssl);
        if (verdict != X509_V_OK)
            text += std::string(": ") + X509_verify_cert_error_string(verdict);
    }
    return text;
}

bool is_ip_address(const std::string& host)
{
    unsigned char addr[sizeof(in6_addr)];
    return inet_pton(AF_INET, host.c_str(), addr) == 1 || inet_pton(AF_INET6, host.c_str(), addr) == 1;
}

double monotonic_seconds()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

TlsClient::TlsClient(bool verify) : verify_(verify)
{
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (!ctx_) {
        error_ = "TLS: " + queued_error();
        return;
    }
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    // Partial writes suit non-blocking loops: a write takes what the socket takes, and
    // the rest is offered again later from wherever the caller's buffer has moved to.
    SSL_CTX_set_mode(ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // One read takes what the socket holds, not a record's header and then its body;
    // the price is that bytes wait inside OpenSSL, which TlsStream::pending() tells.
    SSL_CTX_set_read_ahead(ctx_, 1);
    // A chat server may end the connection without close_notify, as over plain TCP; the
    // lines it sent are whole by then, so the end is an end, not a truncation attack.
    SSL_CTX_set_options(ctx_, SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (verify_) {
        SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
        if (SSL_CTX_set_default_verify_paths(ctx_) != 1) {
            error_ = "TLS: the system's certificate store: " + queued_error();
            SSL_CTX_free(ctx_);
            ctx_ = nullptr;
        }
    } else {
        SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
    }
}

TlsClient::~TlsClient() { SSL_CTX_free(ctx_); }

TlsStream::TlsStream(const TlsClient& client, int fd, const std::string& host, BIO* io) : fd_(fd)
{
    ssl_ = SSL_new(client.ctx());
    if (!ssl_) {
        error_ = queued_error();
        BIO_free(io);
        return;
    }
    if (!io)
        io = BIO_new_socket(fd, BIO_NOCLOSE);
    SSL_set_bio(ssl_, io, io);
    // SNI names a host, never an address (RFC 6066, section 3).
    if (!host.empty() && !is_ip_address(host))
        SSL_set_tlsext_host_name(ssl_, host.c_str());
    if (client.verifies())
        SSL_set1_host(ssl_, host.c_str());  // a name or an IP address, matched in the certificate
    SSL_set_connect_state(ssl_);
}

TlsStream::~TlsStream() { SSL_free(ssl_); }

TlsStream::Io TlsStream::result(int rc)
{
    int saved_errno = errno;
    switch (SSL_get_error(ssl_, rc)) {
    case SSL_ERROR_WANT_READ:
        return Io::want_read;
    case SSL_ERROR_WANT_WRITE:
        return Io::want_write;
    case SSL_ERROR_ZERO_RETURN:
        return Io::closed;
    case SSL_ERROR_SYSCALL:
        error_ = queued_error();
        if (error_.empty())
            error_ = saved_errno ? strerror(saved_errno) : "the connection ended";
        return Io::failed;
    default:
        error_ = queued_error(ssl_);
        if (error_.empty())
            error_ = "TLS failed";
        return Io::failed;
    }
}

TlsStream::Io TlsStream::handshake()
{
    if (!ssl_)
        return Io::failed;
    ERR_clear_error();  // SSL_get_error reads the queue: only this call's errors may be in it
    errno = 0;
    int rc = SSL_do_handshake(ssl_);
    if (rc == 1)
        return Io::done;
    Io io = result(rc);
    if (io == Io::closed) {
        error_ = "the server closed the connection during the TLS handshake";
        io = Io::failed;
    }
    return io;
}

bool TlsStream::handshake_within(double seconds)
{
    double deadline = monotonic_seconds() + seconds;
    for (;;) {
        Io io = handshake();
        if (io == Io::done)
            return true;
        if (io == Io::failed)
            return false;
        double left = deadline - monotonic_seconds();
        if (left <= 0) {
            error_ = "no handshake in time";
            return false;
        }
        pollfd p{fd_, poll_events(io), 0};
        if (poll(&p, 1, static_cast<int>(left * 1000) + 1) < 0 && errno != EINTR) {
            error_ = std::string("poll: ") + strerror(errno);
            return false;
        }
    }
}

TlsStream::Io TlsStream::read(char* buf, size_t cap, size_t& got)
{
    ERR_clear_error();
    errno = 0;
    int rc = SSL_read_ex(ssl_, buf, cap, &got);
    return rc == 1 ? Io::done : result(rc);
}

TlsStream::Io TlsStream::write(const char* p, size_t len, size_t& put)
{
    ERR_clear_error();
    errno = 0;
    int rc = SSL_write_ex(ssl_, p, len, &put);
    return rc == 1 ? Io::done : result(rc);
}

TlsStream::Io TlsStream::close_notify()
{
    ERR_clear_error();
    errno = 0;
    int rc = SSL_shutdown(ssl_);  // 0: sent, the server's not yet seen; 1: both
    return rc >= 0 ? Io::done : result(rc);
}

bool TlsStream::pending() const { return ssl_ && SSL_has_pending(ssl_); }

short TlsStream::poll_events(Io io)
{
    return io == Io::want_read ? POLLIN : io == Io::want_write ? POLLOUT : 0;
}
