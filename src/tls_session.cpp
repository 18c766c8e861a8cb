// TLS session: OpenSSL's non-blocking calls turned into what the connection waits for.
#include "tls_session.h"

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>

// The session's transport, behind its BIO: the socket, but first the bytes a PROXY header's
// reader took past the header (the beginning of the handshake); and the records sealed for
// the connection to send, which any later record must follow. One BIO for all keeps one
// code path.
struct TlsTransport {
    int fd = -1;
    std::string early;
    size_t early_read = 0;
    bool eof = false;      // read() said so: OpenSSL asks (BIO_CTRL_EOF) to tell EOF from an error
    // In seal(): records go to sealed, for a send in the flush pass's ring; or, through, to
    // the socket, and what it does not take to sealed (a write never waits).
    enum class Seal { off, kept, through } seal = Seal::off;
    // A send in the flush pass's ring points into it from commit to reaping: it is only
    // appended to (which could move it) in seal() and by OpenSSL, never in that window.
    std::string sealed;
    size_t sent = 0;  // of sealed
};

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

int transport_read(BIO* b, char* out, int len)
{
    auto* t = static_cast<TlsTransport*>(BIO_get_data(b));
    BIO_clear_retry_flags(b);
    if (t->early_read < t->early.size()) {
        size_t n = std::min(static_cast<size_t>(len), t->early.size() - t->early_read);
        memcpy(out, t->early.data() + t->early_read, n);
        t->early_read += n;
        if (t->early_read == t->early.size())
            std::string().swap(t->early);
        return static_cast<int>(n);
    }
    ssize_t n = read(t->fd, out, static_cast<size_t>(len));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        BIO_set_retry_read(b);
    t->eof = n == 0;
    return static_cast<int>(n);
}

int transport_write(BIO* b, const char* in, int len)
{
    auto* t = static_cast<TlsTransport*>(BIO_get_data(b));
    BIO_clear_retry_flags(b);
    size_t want = static_cast<size_t>(len);
    if (t->seal == TlsTransport::Seal::kept || t->sent < t->sealed.size()) {
        t->sealed.append(in, want);
        return len;
    }
    ssize_t n;
    do
        n = write(t->fd, in, want);
    while (n < 0 && errno == EINTR);
    if (t->seal == TlsTransport::Seal::through && (n >= 0 || errno == EAGAIN)) {
        size_t took = n > 0 ? static_cast<size_t>(n) : 0;
        t->sealed.append(in + took, want - took);
        return len;
    }
    if (n < 0 && errno == EAGAIN)
        BIO_set_retry_write(b);
    return static_cast<int>(n);
}

long transport_ctrl(BIO* b, int cmd, long, void*)
{
    auto* t = static_cast<TlsTransport*>(BIO_get_data(b));
    switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;  // writes are unbuffered
    case BIO_CTRL_PENDING: return static_cast<long>(t->early.size() - t->early_read);
    case BIO_CTRL_EOF: return t->eof;
    default: return 0;
    }
}

int transport_destroy(BIO* b)
{
    delete static_cast<TlsTransport*>(BIO_get_data(b));
    BIO_set_data(b, nullptr);
    return 1;
}

BIO_METHOD* transport_method()
{
    static BIO_METHOD* const method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "evchat socket");
        BIO_meth_set_read(m, transport_read);
        BIO_meth_set_write(m, transport_write);
        BIO_meth_set_ctrl(m, transport_ctrl);
        BIO_meth_set_destroy(m, transport_destroy);
        return m;
    }();
    return method;
}

}  // namespace

std::string openssl_reason(const char* fallback)
{
    unsigned long e = ERR_peek_error();
    const char* reason = e ? ERR_reason_error_string(e) : nullptr;
    ERR_clear_error();
    return reason ? reason : fallback;
}

std::unique_ptr<TlsSession> TlsSession::accept(SSL* ssl, int fd, std::string early)
{
    BIO* bio = BIO_new(transport_method());
    if (!bio) {
        SSL_free(ssl);
        ERR_clear_error();
        return nullptr;
    }
    bool has_early = !early.empty();
    auto* transport = new TlsTransport;
    transport->fd = fd;
    transport->early = std::move(early);
    BIO_set_data(bio, transport);
    BIO_set_init(bio, 1);
    SSL_set_bio(ssl, bio, bio);
    SSL_set_accept_state(ssl);
    return std::unique_ptr<TlsSession>(new TlsSession(ssl, *transport, has_early));
}

TlsSession::TlsSession(SSL* ssl, TlsTransport& transport, bool early)
    : ssl_(ssl), transport_(transport), unread_(early)
{
}

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

// The transport keeps what it does not write through, so a write never waits for the
// socket: it stops only when the session fails.
TlsSession::Result TlsSession::seal(const iovec* iov, size_t count, bool through)
{
    char record[record_size];
    size_t len = 0;
    for (size_t i = 0; i < count && len < record_size; i++) {
        size_t take = std::min(iov[i].iov_len, record_size - len);
        memcpy(record + len, iov[i].iov_base, take);
        len += take;
    }
    // A record adds at most a header, a tag and padding: one allocation for all of it.
    if (!through)
        transport_.sealed.reserve(transport_.sealed.size() + len + SSL3_RT_HEADER_LENGTH + 256);
    transport_.seal = through ? TlsTransport::Seal::through : TlsTransport::Seal::kept;
    Result r;
    for (const char* p = record; r.bytes < len;) {
        // A write ends after each record (partial writes are on, for close_notify): a peer
        // that asked for short ones (max_fragment_length) makes several.
        size_t done = 0;
        int ret = fresh([&] { return SSL_write_ex(ssl_, p + r.bytes, len - r.bytes, &done); });
        if (ret <= 0) {
            r = outcome(ret, r);
            // A write that must first read (a renegotiation, which is refused, or a message
            // split across records) would wait on the wrong side: the session is given up.
            if (r.wait == Wait::readable)
                why_ = "a write waits for the peer's input";
            else if (r.ended)
                why_ = "closed by the peer";
            r = {r.bytes, Wait::none, false, true};
            break;
        }
        r.bytes += done;
    }
    transport_.seal = TlsTransport::Seal::off;
    return r;
}

size_t TlsSession::unsent(iovec* iov) const
{
    if (!owes())
        return 0;
    iov->iov_base = transport_.sealed.data() + transport_.sent;
    iov->iov_len = unsent_bytes();
    return 1;
}

void TlsSession::sent(size_t n)
{
    transport_.sent += n;
    assert(transport_.sent <= transport_.sealed.size());
    if (!owes()) {
        std::string().swap(transport_.sealed);  // an idle connection keeps no buffer
        transport_.sent = 0;
    }
}

size_t TlsSession::unsent_bytes() const
{
    return transport_.sealed.size() - transport_.sent;
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
