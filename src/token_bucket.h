// Token bucket: a rate with a burst, for flood control. Pure arithmetic on the times it is
// given; each client owns one per limited quantity (lines, bytes).
#pragma once

#include <algorithm>

class TokenBucket {
public:
    // Full at the start: a new client may use its whole burst at once.
    void reset(double burst) { tokens_ = burst; }

    // Adds what rate per second earned since the last refill, up to burst.
    void refill(double rate, double burst, double now)
    {
        if (now > last_)
            tokens_ = std::min(burst, tokens_ + (now - last_) * rate);
        last_ = now;
    }

    double tokens() const { return tokens_; }
    void take(double n) { tokens_ -= n; }

    // Seconds until there are `need` tokens at this rate.
    double wait(double need, double rate) const
    {
        return tokens_ >= need || rate <= 0 ? 0.0 : (need - tokens_) / rate;
    }

private:
    double tokens_ = 0;
    double last_ = 0;
};
