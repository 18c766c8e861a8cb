// Connect rate: refill, spend, and the least recently seen address forgotten.
#include "connect_rate.h"

#include <algorithm>

void ConnectRate::configure(double rate, double burst)
{
    rate_ = rate;
    burst_ = std::max(burst, 1.0);
    if (rate_ <= 0) {
        recent_.clear();
        index_.clear();
    }
}

bool ConnectRate::take(const IpAddress& ip, double now)
{
    if (rate_ <= 0)
        return true;
    auto found = index_.find(ip);
    if (found == index_.end()) {
        if (index_.size() >= capacity_) {
            index_.erase(recent_.back().ip);
            recent_.pop_back();
        }
        recent_.push_front(Bucket{ip, burst_, now});
        found = index_.emplace(ip, recent_.begin()).first;
    } else {
        recent_.splice(recent_.begin(), recent_, found->second);
    }
    Bucket& b = *found->second;
    // ev_now is wall-clock time: set back, it earns nothing, and must not owe anything
    // either (a negative refill would lock the address out for as long as the jump).
    b.tokens = std::min(burst_, b.tokens + std::max(0.0, now - b.at) * rate_);
    b.at = now;
    if (b.tokens < 1)
        return false;
    b.tokens -= 1;
    return true;
}
