// Scenario: one kind of load — its sizes, read from flags, and its run. One file each.
// Owned by main, which makes one per process and runs it once.
#pragma once

#include "bench/flags.h"
#include "bench/json.h"
#include "bench/peer.h"

#include <ev.h>
#include <memory>
#include <string>

namespace bench {

// A run adds the scenario's figures and checks to one result line.
class Scenario {
public:
    virtual ~Scenario() = default;
    // The case: the scenario with its sizes, e.g. "fanout C=100 S=10 M=1000 P=64 W=64";
    // results of the same case on different servers are compared.
    virtual std::string name() const = 0;
    // Runs against the target; false if a check failed.
    virtual bool run(struct ev_loop* loop, const Target& target, JsonLine& out) = 0;
};

// Each reads its flags (with defaults) at construction.
std::unique_ptr<Scenario> make_fanout(Flags& flags);
std::unique_ptr<Scenario> make_latency(Flags& flags);
std::unique_ptr<Scenario> make_conns(Flags& flags);
std::unique_ptr<Scenario> make_slow(Flags& flags);
std::unique_ptr<Scenario> make_churn(Flags& flags);
std::unique_ptr<Scenario> make_soak(Flags& flags);

}  // namespace bench
