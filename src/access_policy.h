// Access policy: which client addresses may connect — [access] allow and deny lists and
// the connect rate per address. Pure (the time is given); owned by the server, which sets
// it anew on each reload.
#pragma once

#include "config.h"
#include "connect_rate.h"
#include "ip_range.h"

class AccessPolicy {
public:
    enum class Verdict { admit, denied, too_fast };

    // The lists were validated when the config was read.
    void configure(const AccessConfig& config);
    // Whether a connection from ip is let in now; one let in through the lists counts
    // toward ip's connect rate.
    Verdict check(const IpAddress& ip, double now);
    // The lists alone: whether a connected client may stay after a reload.
    bool allowed(const IpAddress& ip) const;
    // Whether any list or rate is on: otherwise addresses need not be looked at.
    bool active() const { return !allow_.empty() || !deny_.empty() || rate_.enabled(); }

private:
    IpRanges allow_;  // empty: everyone
    IpRanges deny_;   // wins over allow_
    ConnectRate rate_;
};

// The error line a refused client gets (after "error: ").
const char* refusal_text(AccessPolicy::Verdict v);
