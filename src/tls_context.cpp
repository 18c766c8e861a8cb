// TLS context: OpenSSL's server settings, and the checks that make a bad file a config error.
#include "tls_context.h"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <cstring>
#include <ctime>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

// The text of a PEM file, read here rather than by OpenSSL: its message for a missing file
// is "system lib", and a path that names a FIFO or a device must not block the loop (a
// reload reads it) or --check-config.
bool read_pem(const std::string& path, const char* what, std::string& text, std::string& err)
{
    constexpr off_t max_size = 1 << 20;
    int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        err = std::string(what) + " " + path + ": " + strerror(errno);
    } else if (!S_ISREG(st.st_mode)) {
        err = std::string(what) + " " + path + ": not a regular file";
    } else if (st.st_size > max_size) {
        err = std::string(what) + " " + path + ": larger than 1 MiB";
    } else {
        text.resize(static_cast<size_t>(st.st_size));
        ssize_t n = read(fd, text.data(), text.size());
        if (n < 0)
            err = std::string(what) + " " + path + ": " + strerror(errno);
        text.resize(n < 0 ? 0 : static_cast<size_t>(n));
    }
    if (fd >= 0)
        close(fd);
    return err.empty();
}

// The certificate, then the chain that follows it in the same text.
bool use_chain(SSL_CTX* ctx, const std::string& pem)
{
    BIO* in = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* cert = in ? PEM_read_bio_X509_AUX(in, nullptr, nullptr, nullptr) : nullptr;
    bool ok = cert && SSL_CTX_use_certificate(ctx, cert) == 1 && SSL_CTX_clear_chain_certs(ctx) == 1;
    X509_free(cert);
    while (ok) {
        X509* ca = PEM_read_bio_X509(in, nullptr, nullptr, nullptr);
        if (!ca) {
            // The end of the text is the end of the chain; anything else is an error.
            unsigned long e = ERR_peek_last_error();
            ok = ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
            if (ok)
                ERR_clear_error();
            break;
        }
        ok = SSL_CTX_add0_chain_cert(ctx, ca) == 1;
        if (!ok)
            X509_free(ca);
    }
    BIO_free(in);
    return ok;
}

}  // namespace

std::unique_ptr<TlsContext> TlsContext::load(const TlsConfig& config, std::string& err, Culprit& culprit)
{
    ERR_clear_error();
    std::unique_ptr<TlsContext> c(new TlsContext(SSL_CTX_new(TLS_server_method())));
    SSL_CTX* ctx = c->ctx_;
    if (!ctx) {
        err = "cannot make a TLS context: " + openssl_reason("unknown OpenSSL error");
        culprit = Culprit::cert;
        return nullptr;
    }
    // TLS 1.0, 1.1 and SSLv3 are refused whatever the config says.
    SSL_CTX_set_min_proto_version(ctx, config.min_version == TlsVersion::v1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
    // A peer that just closes is a peer that left, as over TCP; renegotiation is refused
    // (it would let a peer make a write wait for its input).
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_COMPRESSION);
    // Buffers go back to the allocator whenever a connection is idle: what an idle TLS
    // client costs is its session, not 2 × 17 KB of record buffers. A write that blocks on
    // the socket (close_notify) may be retried from another address and end after one record.
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // Whole socket reads instead of a header and then a body: half the read calls.
    SSL_CTX_set_read_ahead(ctx, 1);
    // No server-side session cache (memory per past client); one stateless ticket lets a
    // returning client skip the full handshake.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 1);
    if (!config.ciphers.empty() && !SSL_CTX_set_cipher_list(ctx, config.ciphers.c_str())) {
        err = "ciphers \"" + config.ciphers + "\": " + openssl_reason("unknown OpenSSL error");
        culprit = Culprit::ciphers;
        return nullptr;
    }
    if (!config.ciphersuites.empty() && !SSL_CTX_set_ciphersuites(ctx, config.ciphersuites.c_str())) {
        err = "ciphersuites \"" + config.ciphersuites + "\": " + openssl_reason("unknown OpenSSL error");
        culprit = Culprit::ciphersuites;
        return nullptr;
    }
    culprit = Culprit::cert;
    std::string pem;
    if (!read_pem(config.cert, "cert", pem, err))
        return nullptr;
    if (!use_chain(ctx, pem)) {
        err = "cert " + config.cert + ": not a PEM certificate chain (" + openssl_reason("unknown OpenSSL error") + ")";
        return nullptr;
    }
    culprit = Culprit::key;
    if (!read_pem(config.key, "key", pem, err))
        return nullptr;
    EVP_PKEY* key = nullptr;
    if (BIO* in = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))) {
        key = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
        BIO_free(in);
    }
    OPENSSL_cleanse(pem.data(), pem.size());
    if (!key) {
        err = "key " + config.key + ": not a PEM private key (" + openssl_reason("unknown OpenSSL error") + ")";
        return nullptr;
    }
    X509* cert = SSL_CTX_get0_certificate(ctx);
    bool matches = X509_check_private_key(cert, key) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1;
    EVP_PKEY_free(key);
    if (!matches) {
        err = "key " + config.key + " does not match the certificate in " + config.cert;
        ERR_clear_error();
        return nullptr;
    }

    char subject[512];
    X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
    c->subject_ = subject;
    if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)) {
        char* hex = BN_bn2hex(bn);
        c->serial_ = hex;
        OPENSSL_free(hex);
        BN_free(bn);
    }
    struct tm tm;
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1)
        c->not_after_ = static_cast<double>(timegm(&tm));
    return c;
}

TlsContext::~TlsContext()
{
    SSL_CTX_free(ctx_);
}

std::unique_ptr<TlsSession> TlsContext::session(int fd, std::string early) const
{
    SSL* ssl = SSL_new(ctx_);
    if (!ssl) {
        ERR_clear_error();
        return nullptr;
    }
    return TlsSession::accept(ssl, fd, std::move(early));
}
