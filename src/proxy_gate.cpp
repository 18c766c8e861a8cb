// Proxy gate: reading the header within the deadline, and passing the client on.
#include "proxy_gate.h"

#include "address.h"
#include "proxy_protocol.h"

#include <cassert>

class ProxyGate::Arrival final : public Connection {
public:
    Arrival(ProxyGate& gate, int fd, std::string peer)
        : Connection(gate.io_, Socket(fd), std::move(peer)), gate_(gate)
    {
        start_timer(gate.timeout_);
        update_interest();
    }

private:
    friend class Slots<Arrival>;
    friend class ProxyGate;

    // Never more than a header can take: what follows it is the client's, read with it at
    // most once.
    size_t read_size() override { return proxy_header_limit - in_.size(); }
    bool wants_input() const override { return true; }
    void received(const char* data, size_t n) override;
    void input_ended(bool) override { gate_.reject(*this, "closed before its PROXY header"); }
    void timed_out() override { gate_.reject(*this, "no PROXY header in time"); }
    void closed_now() override { gate_.waiting_.closed(*this); }

    ProxyGate& gate_;
    std::string in_;
    size_t slot_ = 0;
};

void ProxyGate::Arrival::received(const char* data, size_t n)
{
    in_.append(data, n);
    ProxyHeader h;
    const char* why = "";
    switch (parse_proxy_header(in_, h, why)) {
    case ProxyParse::incomplete:
        assert(in_.size() < proxy_header_limit);  // read_size() stops short of it
        return;
    case ProxyParse::absent:
        if (gate_.header_ == Header::required) {
            gate_.reject(*this, why);
            return;
        }
        h.local = true;  // h.size is 0: everything is the connection's own
        break;
    case ProxyParse::invalid:
        gate_.reject(*this, why);
        return;
    case ProxyParse::done:
        break;
    }
    std::string addr = h.local ? peer() : format_address(reinterpret_cast<const sockaddr*>(&h.source));
    std::string rest = in_.substr(h.size);
    io().log.write(LogLevel::debug, "%s forwards %s", peer().c_str(), addr.c_str());
    gate_.pass_(release(), std::move(addr), std::move(rest));
}

ProxyGate::ProxyGate(Io& io, Header header, uint64_t& rejected, Pass pass)
    : io_(io), header_(header), rejected_(rejected), pass_(std::move(pass)), waiting_(io.loop)
{
}

ProxyGate::~ProxyGate() = default;

void ProxyGate::configure(const ProxyConfig& config)
{
    std::string err;
    bool ok = IpRanges::parse(config.trusted, trusted_, err);
    assert(ok);  // parse_config checked them
    (void)ok;
    timeout_ = config.timeout;
}

bool ProxyGate::hold(int fd, const sockaddr* peer)
{
    IpAddress ip;
    if (trusted_.empty() || !ip_of(peer, ip) || !trusted_.contains(ip))
        return false;
    waiting_.add(std::make_unique<Arrival>(*this, fd, format_address(peer)));
    return true;
}

void ProxyGate::reject(Arrival& a, const char* why)
{
    rejected_++;
    if (size_t n = rejections_logged_.count(ev_now(io_.loop)))
        io_.log.write(LogLevel::warn, "closed %s from a trusted proxy: %s (%zu closed so since the last report)",
                      a.peer().c_str(), why, n);
    a.close_now("");
}
