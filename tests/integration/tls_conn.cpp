// The tests' TLS client: the handshake and records through memory BIOs, the socket by hand.
#include "tls_conn.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>

namespace itest {

namespace {

std::string reason()
{
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    const char* r = e ? ERR_reason_error_string(e) : nullptr;
    return r ? r : "unknown";
}

int ms_until(double deadline)
{
    double left = deadline - now();
    return left <= 0 ? 0 : static_cast<int>(left * 1000) + 1;
}

}  // namespace

std::unique_ptr<TlsConn> TlsConn::connect(uint16_t port, const TlsOptions& o, std::string* why)
{
    std::unique_ptr<TlsConn> t(new TlsConn);
    t->conn_ = Conn::connect("127.0.0.1", port, o.rcvbuf, kTimeout, o.source);
    if (!t->conn_) {
        if (why)
            *why = "connect failed";
        return nullptr;
    }
    t->ctx_ = SSL_CTX_new(TLS_client_method());
    if (o.max_version) {
        SSL_CTX_set_security_level(t->ctx_, 0);  // let this client offer what evchat must refuse
        SSL_CTX_set_min_proto_version(t->ctx_, TLS1_VERSION);
        SSL_CTX_set_max_proto_version(t->ctx_, o.max_version);
    }
    t->ssl_ = SSL_new(t->ctx_);
    SSL_set_bio(t->ssl_, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
    SSL_set_connect_state(t->ssl_);
    SSL_set_tlsext_host_name(t->ssl_, "localhost");
    t->prefix_ = o.prefix;
    double deadline = now() + kTimeout;
    for (;;) {
        ERR_clear_error();
        int ret = SSL_do_handshake(t->ssl_);
        if (!t->pump_out()) {
            if (why)
                *why = "send failed";
            return nullptr;
        }
        if (ret == 1)
            return t;
        int err = SSL_get_error(t->ssl_, ret);
        if (err != SSL_ERROR_WANT_READ) {
            if (why)
                *why = reason();
            return nullptr;
        }
        if (!t->pump_in(deadline)) {
            if (why)
                *why = t->eof_ ? "closed by the server" : "timed out";
            return nullptr;
        }
    }
}

TlsConn::~TlsConn()
{
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
}

bool TlsConn::pump_out()
{
    BIO* w = SSL_get_wbio(ssl_);
    std::string out = std::move(prefix_);
    prefix_.clear();
    char buf[16384];
    int n;
    while ((n = BIO_read(w, buf, sizeof buf)) > 0)
        out.append(buf, static_cast<size_t>(n));
    return out.empty() || conn_->send_all(out);
}

bool TlsConn::pump_in(double deadline)
{
    if (eof_)
        return false;
    pollfd p{conn_->fd(), POLLIN, 0};
    if (poll(&p, 1, ms_until(deadline)) <= 0)
        return false;
    char buf[16384];
    ssize_t n = recv(conn_->fd(), buf, sizeof buf, 0);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR;
    if (n == 0) {
        eof_ = true;
        BIO_set_mem_eof_return(SSL_get_rbio(ssl_), 0);  // OpenSSL sees the end too
        return true;  // what it read before the end is still to be decrypted
    }
    BIO_write(SSL_get_rbio(ssl_), buf, static_cast<int>(n));
    return true;
}

bool TlsConn::send_all(const std::string& text)
{
    size_t done = 0;
    if (!text.empty() && SSL_write_ex(ssl_, text.data(), text.size(), &done) != 1)
        return false;
    return pump_out();
}

std::string TlsConn::read_line(double timeout)
{
    double deadline = now() + timeout;
    for (;;) {
        size_t nl = plain_.find('\n');
        if (nl != std::string::npos) {
            std::string line = plain_.substr(0, nl);
            plain_.erase(0, nl + 1);
            return line;
        }
        char buf[16384];
        size_t got = 0;
        ERR_clear_error();
        int ret = SSL_read_ex(ssl_, buf, sizeof buf, &got);
        if (ret == 1) {
            plain_.append(buf, got);
            continue;
        }
        int err = SSL_get_error(ssl_, ret);
        if (err == SSL_ERROR_ZERO_RETURN) {
            close_notified_ = true;
            return kEof;
        }
        if (err != SSL_ERROR_WANT_READ)
            return eof_ ? kEof : "<<tls error: " + reason() + ">>";
        pump_out();  // a post-handshake message may want an answer
        if (eof_)
            return kEof;
        if (!pump_in(deadline))
            return eof_ ? kEof : kTimedOut;
    }
}

std::string TlsConn::peer_serial() const
{
    X509* cert = SSL_get1_peer_certificate(ssl_);
    if (!cert)
        return "";
    BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
    char* hex = BN_bn2hex(bn);
    std::string s = hex;
    OPENSSL_free(hex);
    BN_free(bn);
    X509_free(cert);
    return s;
}

std::string TlsConn::version() const
{
    return SSL_get_version(ssl_);
}

Certificate make_certificate(TempDir& dir, const std::string& name, int serial)
{
    Certificate c{dir.file(name + ".crt"), dir.file(name + ".key")};
    RunResult r = run({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                       "-days", "2", "-subj", "/CN=localhost", "-set_serial", std::to_string(serial), "-keyout",
                       c.key, "-out", c.cert});
    REQUIRE_MESSAGE(r.status == 0, "openssl req failed: " << r.err);
    return c;
}

}  // namespace itest
