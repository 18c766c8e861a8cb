// TLS session: OpenSSL's non-blocking calls turned into what the connection waits for.
#include "tls_session.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace {

// The most plaintext one record holds: what one write call offers OpenSSL at most.
constexpr size_t record_size = SSL3_RT_MAX_PLAIN_LENGTH;

// OpenSSL's error queue is per thread: a stale entry from another connection would make
// SSL_get_error misreport this one, hence the clear before every call; errno is cleared
// so that an EOF (SSL_ERROR_SYSCALL with errno 0) is told apart from an error.
template <class Call>
int fresh(Call call)
{
    ERR_clear_error();
    errno = 0;
    return call();
}

}  // namespace

std::string openssl_reason(const char* fallback)
{
    unsigned long e = ERR_peek_error();
    const char* reason = e ? ERR_reason_error_string(e) : nullptr;
    ERR_clear_error();
    return reason ? reason : fallback;
}

TlsSession::TlsSession(SSL* ssl, bool early) : ssl_(ssl), unread_(early) {}

TlsSession::~TlsSession()
{
    SSL_free(ssl_);
}

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
        why_ = openssl_reason("TLS error");
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
        int ret = fresh([&] { return SSL_read_ex(ssl_, buf + r.bytes, n - r.bytes, &got); });
        if (ret <= 0)
            return outcome(ret, r);
        r.bytes += got;
    }
    unread_ = true;
    return r;
}

// Writes from p until done, or until the socket or the session stops it: then what is left
// of p is held, to be offered again first (OpenSSL may have made a record of part of it,
// and a retry must offer at least those bytes again).
TlsSession::Result TlsSession::write_out(const char* p, size_t n, Result r)
{
    while (n > 0) {
        size_t done = 0;
        int ret = fresh([&] { return SSL_write_ex(ssl_, p, n, &done); });
        if (ret <= 0) {
            r = outcome(ret, r);
            if (r.ended) {
                r.ended = false;  // a write to a peer that has gone: nothing more goes out
                r.failed = true;
            } else if (r.wait == Wait::readable) {
                // A write that must first read (a renegotiation, which is refused, or a
                // message split across records) would spin on a writable socket: the
                // session is given up rather than left to wait on the wrong side.
                why_ = "a write waits for the peer's input";
                r.wait = Wait::none;
                r.failed = true;
            } else if (r.wait == Wait::writable) {
                held_.assign(p, n);
            }
            return r;
        }
        p += done;
        n -= done;  // a peer that asked for short records (max_fragment_length) gets several
    }
    return r;
}

TlsSession::Result TlsSession::write(const iovec* iov, size_t count)
{
    Result r;
    if (!held_.empty()) {
        std::string held;
        held.swap(held_);  // an idle connection keeps no buffer
        r = write_out(held.data(), held.size(), r);
        if (r.wait != Wait::none || r.failed)
            return r;
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
        r.bytes += len;  // taken: written, or held
        r = write_out(record, len, r);
        if (r.wait != Wait::none || r.failed)
            return r;
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
    int ret = fresh([&] { return SSL_shutdown(ssl_); });
    bool blocked = ret < 0 && SSL_get_error(ssl_, ret) == SSL_ERROR_WANT_WRITE;
    ERR_clear_error();
    return !blocked;
}

std::string TlsSession::describe() const
{
    return std::string(SSL_get_version(ssl_)) + " " + SSL_get_cipher_name(ssl_);
}
