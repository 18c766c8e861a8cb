// TLS context: the certificate, key and protocol rules every TLS connection is made from,
// and the sessions made from them. Owned by the server, and replaced whole on reload:
// each session keeps the context it was made from alive (OpenSSL counts references).
#pragma once

#include "config.h"
#include "tls_session.h"

#include <memory>
#include <string>

typedef struct ssl_ctx_st SSL_CTX;

class TlsContext {
public:
    // The key of [tls] a failure is about, for the config error's position.
    enum class Culprit { cert, key, min_version, ciphers, ciphersuites };

    // Reads config's files and checks that they make a context: nullptr, err and culprit if not.
    static std::unique_ptr<TlsContext> load(const TlsConfig& config, std::string& err, Culprit& culprit);
    ~TlsContext();
    TlsContext(const TlsContext&) = delete;
    TlsContext& operator=(const TlsContext&) = delete;

    // A server session on a connected non-blocking socket, its handshake still to come;
    // early is what was read from the socket already, and is read first. nullptr: out of memory.
    std::unique_ptr<TlsSession> session(int fd, std::string early) const;
    // The certificate's subject, serial number (hex) and end of validity (Unix time).
    const std::string& subject() const { return subject_; }
    const std::string& serial() const { return serial_; }
    double not_after() const { return not_after_; }

private:
    explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}

    SSL_CTX* ctx_;
    std::string subject_;
    std::string serial_;
    double not_after_ = 0;
};
