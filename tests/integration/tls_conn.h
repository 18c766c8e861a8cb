// A TLS client of evchat's TLS listeners, for the tests: OpenSSL over memory buffers, so
// that every byte to and from the socket passes through here (a PROXY header can go out
// in the same write as the handshake's first message), and every wait has a deadline.
#pragma once

#include "harness.h"

#include <cstdint>
#include <memory>
#include <string>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace itest {

struct TlsOptions {
    std::string prefix;   // bytes sent before the handshake, in its first write
    int max_version = 0;  // e.g. TLS1_1_VERSION to offer nothing newer; 0: any
    std::string source;   // local address, as for Conn::connect
    int rcvbuf = 0;       // SO_RCVBUF, as for Conn::connect
};

class TlsConn {
public:
    // Connects to 127.0.0.1:port and finishes the handshake; nullptr on failure, with the
    // reason in *why if given. The server's certificate is not verified.
    static std::unique_ptr<TlsConn> connect(uint16_t port, const TlsOptions& options = {}, std::string* why = nullptr);
    ~TlsConn();
    TlsConn(const TlsConn&) = delete;
    TlsConn& operator=(const TlsConn&) = delete;

    const std::string& addr() const { return conn_->addr(); }
    Conn& conn() { return *conn_; }
    bool send_all(const std::string& text);
    // The next line of plaintext without its '\n', or kTimedOut / kEof (the server closed:
    // close_notified() says whether it said so first) / "<<tls error: ...>>".
    std::string read_line(double timeout = kTimeout);
    bool close_notified() const { return close_notified_; }
    // The serial number of the server's certificate, in hex as OpenSSL prints it.
    std::string peer_serial() const;
    std::string version() const;

private:
    TlsConn() = default;
    bool pump_out();
    // Waits for the socket and feeds what it has to OpenSSL; false on timeout or EOF.
    bool pump_in(double deadline);

    std::unique_ptr<Conn> conn_;
    SSL_CTX* ctx_ = nullptr;
    SSL* ssl_ = nullptr;
    std::string prefix_;
    std::string plain_;  // plaintext read, not yet taken as lines
    bool eof_ = false;
    bool close_notified_ = false;
};

// A self-signed certificate for localhost with the given serial number, made by the
// openssl tool (REQUIRE-fails without it) into dir as NAME.crt and NAME.key.
struct Certificate {
    std::string cert, key;
};
Certificate make_certificate(TempDir& dir, const std::string& name, int serial);

}  // namespace itest
