// TLS gate: a handshake on the loop within its deadline, and the connection passed on.
#include "tls_gate.h"

#include "tls_context.h"

#include <cassert>

class TlsGate::Handshake final : public Connection {
public:
    Handshake(TlsGate& gate, Socket socket, std::string addr)
        : Connection(gate.io_, std::move(socket), std::move(addr)), gate_(gate)
    {
        start_timer(gate.timeout_);
        update_interest();
    }

private:
    friend class Slots<Handshake>;
    friend class TlsGate;

    // Plaintext comes only with the handshake's end, in the read that ends it; a record's
    // worth is read here, the rest stays in the session for the next owner. Nothing, when
    // the handshakes have had their share of this iteration.
    size_t read_size() override { return gate_.may_step() ? 16 * 1024 : 0; }
    bool wants_input() const override { return true; }
    void received(const char* data, size_t n) override { rest_.append(data, n); }
    void handshake_done() override
    {
        gate_.counts_.ok++;
        std::string addr = peer();
        gate_.pass_(release(), std::move(addr), std::move(rest_));
    }
    void input_ended(bool reset) override
    {
        if (reset)
            gate_.fail(*this, gate_.counts_.failed, tls_session()->why().c_str());
        else
            gate_.fail(*this, gate_.counts_.closed, "closed during the handshake");
    }
    void timed_out() override { gate_.fail(*this, gate_.counts_.timeout, "no handshake in time"); }
    void closed_now() override { gate_.held_.closed(*this); }

    TlsGate& gate_;
    std::string rest_;
    size_t slot_ = 0;
};

TlsGate::TlsGate(Io& io, TlsHandshakes& counts, Pass pass)
    : io_(io), counts_(counts), pass_(std::move(pass)), held_(io.loop)
{
}

TlsGate::~TlsGate() = default;

void TlsGate::configure(const TlsContext* context, double timeout, size_t max_pending)
{
    context_ = context;
    timeout_ = timeout;
    max_pending_ = max_pending;
}

void TlsGate::hold(Socket plain, std::string addr, std::string early)
{
    assert(!plain.tls());
    if (!context_ || held_.size() >= max_pending_) {
        counts_.refused++;
        io_.log.write(LogLevel::debug, "%s TLS handshake refused: %s", addr.c_str(),
                      context_ ? "too many under way" : "no certificate");
        return;  // plain closes it
    }
    std::unique_ptr<TlsSession> session = context_->session(plain.fd(), std::move(early));
    if (!session) {
        counts_.refused++;
        io_.log.write(LogLevel::warn, "%s TLS handshake refused: out of memory", addr.c_str());
        return;
    }
    plain.attach(std::move(session));
    held_.add(std::make_unique<Handshake>(*this, std::move(plain), std::move(addr)));
}

// A handshake's step costs up to a millisecond of CPU (the key exchange, the signature),
// and a storm of them makes every socket of the storm ready at once. Each iteration takes
// steps until it has run for step_budget (at least one step), and leaves the others for
// the next: their sockets are still readable, so the loop comes back at once, having
// served everyone else in between.
bool TlsGate::may_step()
{
    constexpr double step_budget = 0.002;
    unsigned now = ev_iteration(io_.loop);
    if (now != iteration_) {
        iteration_ = now;
        stepped_ = false;
    }
    if (stepped_ && ev_time() - ev_now(io_.loop) > step_budget)
        return false;
    stepped_ = true;
    return true;
}

// Never entered the room, so nothing is said of it there; the reason is for the operator.
void TlsGate::fail(Handshake& h, uint64_t& count, const char* why)
{
    count++;
    io_.log.write(LogLevel::debug, "%s TLS handshake failed: %s", h.peer().c_str(), why);
    h.close_now("");
}
