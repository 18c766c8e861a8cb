// Connect rate: a token bucket of new connections per client address ([access]
// connect_rate, connect_burst), in a table of bounded size. Pure (the time is given);
// owned by the server's access policy.
#pragma once

#include "ip_range.h"

#include <algorithm>
#include <cstddef>
#include <list>
#include <unordered_map>

class ConnectRate {
public:
    // The most addresses remembered. A flood from more distinct addresses than this costs
    // no more memory: the least recently seen address is forgotten, and a forgotten one
    // starts again with a full bucket.
    static constexpr size_t default_capacity = 16384;

    // At least 1: a new address is put in before the bucket is read, and evicting from an
    // empty table would be undefined.
    explicit ConnectRate(size_t capacity = default_capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

    // rate 0 turns the limit off (and forgets every address).
    void configure(double rate, double burst);
    bool enabled() const { return rate_ > 0; }
    // A connection from ip at now: true if its bucket had a token (now spent).
    bool take(const IpAddress& ip, double now);
    size_t remembered() const { return index_.size(); }

private:
    struct Bucket {
        IpAddress ip;
        double tokens;
        double at;  // when tokens was last brought up to date
    };

    size_t capacity_;
    double rate_ = 0;
    double burst_ = 1;
    std::list<Bucket> recent_;  // most recently seen first
    std::unordered_map<IpAddress, std::list<Bucket>::iterator, IpAddressHash> index_;
};
