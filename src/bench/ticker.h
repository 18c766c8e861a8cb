// Ticker: a repeating libev timer that calls a function while it lives.
// Owned by whoever wants the ticks, for as long as it wants them: the Session, a scenario.
#pragma once

#include <ev.h>
#include <functional>
#include <utility>

namespace bench {

// The clocks of the session (wake-ups, probes) and of the scenarios (send schedules,
// samples).
class Ticker {
public:
    Ticker(struct ev_loop* loop, double interval, std::function<void()> fn)
        : loop_(loop), fn_(std::move(fn))
    {
        ev_timer_init(&w_, on_tick, interval, interval);
        w_.data = this;
        ev_timer_start(loop_, &w_);
    }
    ~Ticker() { ev_timer_stop(loop_, &w_); }
    Ticker(const Ticker&) = delete;
    Ticker& operator=(const Ticker&) = delete;

private:
    static void on_tick(struct ev_loop*, ev_timer* w, int) { static_cast<Ticker*>(w->data)->fn_(); }

    struct ev_loop* loop_;
    std::function<void()> fn_;
    ev_timer w_;
};

}  // namespace bench
