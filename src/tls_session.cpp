// TLS session: OpenSSL's non-blocking calls turned into what the connection waits for.
#include "tls_session.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace {

// A record's largest plaintext: each write call hands OpenSSL at most one record, so
// that a record the socket did not take is exactly one call's bytes (see held_).
constexpr size_t record_size = SSL3_RT_MAX_PLAIN_LENGTH;

std::string openssl_error(const char* fallback)
{
    unsigned long e = ERR_get_error();
    if (e == 0)
        return fallback;
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    // "error:0A00010B:SSL routines::wrong version number": the reason is what a reader needs.
    const char* reason = ERR_reason_error_string(e);
    ERR_clear_error();
    return reason ? reason : buf;
}

}  // namespace

TlsSession::TlsSession(SSL* ssl, bool early) : ssl_(ssl), unread_(early) {}

TlsSession::~TlsSession()
{
    SSL_free(ssl_);
}

// OpenSSL's error queue is per thread: a stale entry from another connection would make
// SSL_get_error misreport this one, hence the clear before every call.
TlsSession::Result TlsSession::outcome(int ret, Result r)
{
    switch (SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ: r.wait = Wait::readable; break;
    case SSL_ERROR_WANT_WRITE: r.wait = Wait::writable; break;
    case SSL_ERROR_ZERO_RETURN: r.ended = true; break;
    case SSL_ERROR_SYSCALL:
        if (errno == 0 || errno == ECONNRESET || errno == EPIPE) {
            why_ = errno == 0 ? "closed by the peer" : strerror(errno);
            r.ended = errno == 0;
            r.failed = errno != 0;
        } else {
            why_ = strerror(errno);
            r.failed = true;
        }
        break;
    default:
        why_ = openssl_error("TLS error");
        r.failed = true;
        break;
    }
    ERR_clear_error();
    return r;
}

TlsSession::Result TlsSession::read(char* buf, size_t n)
{
    Result r;
    unread_ = false;
    while (r.bytes < n) {
        size_t got = 0;
        ERR_clear_error();
        errno = 0;
        int ret = SSL_read_ex(ssl_, buf + r.bytes, n - r.bytes, &got);
        if (ret <= 0)
            return outcome(ret, r);
        r.bytes += got;
    }
    unread_ = true;
    return r;
}

TlsSession::Result TlsSession::write(const iovec* iov, size_t count)
{
    Result r;
    if (!held_.empty()) {
        size_t done = 0;
        ERR_clear_error();
        errno = 0;
        int ret = SSL_write_ex(ssl_, held_.data(), held_.size(), &done);
        if (ret <= 0)
            return outcome(ret, r);
        std::string().swap(held_);  // an idle connection holds no buffer
    }
    char record[record_size];
    size_t i = 0, offset = 0;
    while (i < count) {
        size_t len = 0;
        while (i < count && len < record_size) {
            size_t take = std::min(iov[i].iov_len - offset, record_size - len);
            memcpy(record + len, static_cast<const char*>(iov[i].iov_base) + offset, take);
            len += take;
            offset += take;
            if (offset == iov[i].iov_len) {
                i++;
                offset = 0;
            }
        }
        size_t done = 0;
        ERR_clear_error();
        errno = 0;
        int ret = SSL_write_ex(ssl_, record, len, &done);
        if (ret <= 0) {
            r = outcome(ret, r);
            if (r.wait == Wait::readable) {
                // Only a renegotiation makes a write wait for input, and it is refused
                // (SSL_OP_NO_RENEGOTIATION): waiting for the socket to drain would spin.
                why_ = "the peer asked to renegotiate";
                r.wait = Wait::none;
                r.failed = true;
            } else if (r.wait == Wait::writable) {
                // OpenSSL made the record and keeps it; the retry must offer the same bytes.
                held_.assign(record, len);
                r.bytes += len;
            }
            return r;
        }
        r.bytes += done;
    }
    return r;
}

bool TlsSession::handshake_done() const
{
    return SSL_is_init_finished(ssl_) != 0;
}

bool TlsSession::close_notify()
{
    if (!handshake_done())
        return true;  // nothing to close: the peer never got a session
    ERR_clear_error();
    int ret = SSL_shutdown(ssl_);
    bool blocked = ret < 0 && SSL_get_error(ssl_, ret) == SSL_ERROR_WANT_WRITE;
    ERR_clear_error();
    return !blocked;
}

std::string TlsSession::describe() const
{
    return std::string(SSL_get_version(ssl_)) + " " + SSL_get_cipher_name(ssl_);
}
