// TLS gate: connections to a TLS listener, each held until its handshake is done, then
// passed on with its session; a handshake that fails or does not end in time never gets
// further. Owned by a listener's owner (the server for chat, the web listener for https).
#pragma once

#include "connection.h"
#include "held.h"
#include "stats.h"

#include <cstdint>
#include <functional>
#include <string>

class TlsContext;

class TlsGate {
public:
    // A connection whose handshake is done: its socket and session, its ADDR, and the
    // plaintext that came with the end of the handshake.
    using Pass = std::function<void(Socket socket, std::string addr, std::string rest)>;

    TlsGate(Io& io, TlsHandshakes& counts, Pass pass);
    ~TlsGate();
    TlsGate(const TlsGate&) = delete;
    TlsGate& operator=(const TlsGate&) = delete;

    // For handshakes that begin from now on: the context they use (the server's; it must
    // outlive its use here, and may be replaced by another call), the time each has, and
    // how many may be under way at once.
    void configure(const TlsContext* context, double timeout, size_t max_pending);
    // A plain socket, from addr, that begins its handshake here; early holds what was read
    // from it already (after a PROXY header).
    void hold(Socket plain, std::string addr, std::string early);
    size_t pending() const { return held_.size(); }

private:
    class Handshake;

    void fail(Handshake& h, uint64_t& count, const char* why);
    bool may_step();

    Io& io_;
    TlsHandshakes& counts_;
    Pass pass_;
    const TlsContext* context_ = nullptr;
    double timeout_ = 10.0;
    size_t max_pending_ = 10000;
    unsigned iteration_ = 0;  // the loop iteration of the last step
    bool stepped_ = false;    // a step was taken in it
    Held<Handshake> held_;
};
