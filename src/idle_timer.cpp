// Idle timer: the list and its one timer.
#include "idle_timer.h"

#include <cassert>

IdleTimer::IdleTimer(struct ev_loop* loop) : loop_(loop)
{
    ev_init(&timer_, on_timer);
    timer_.data = this;
}

IdleTimer::~IdleTimer()
{
    ev_timer_stop(loop_, &timer_);
}

void IdleTimer::set_timeout(double seconds)
{
    timeout_ = seconds;
    arm();
}

void IdleTimer::touch(Entry& e)
{
    bool was_empty = entries_.empty();
    entries_.remove(e);
    e.last_input_ = ev_now(loop_);
    entries_.push_back(e);
    if (was_empty)
        arm();
}

void IdleTimer::remove(Entry& e)
{
    entries_.remove(e);
}

void IdleTimer::set_paused(bool paused)
{
    if (paused == paused_)
        return;
    paused_ = paused;
    if (!paused)
        entries_.each([now = ev_now(loop_)](Entry& e) { e.last_input_ = now; });
    arm();
}

void IdleTimer::arm()
{
    ev_timer_stop(loop_, &timer_);
    if (timeout_ <= 0 || paused_ || entries_.empty())
        return;
    double due = entries_.front()->last_input_ + timeout_ - ev_now(loop_);
    ev_timer_set(&timer_, due > 0 ? due : 0.0, 0.0);
    ev_timer_start(loop_, &timer_);
}

// A sweep touches only the entries that timed out; each leaves, which unlinks it.
void IdleTimer::on_timer(struct ev_loop* loop, ev_timer* w, int)
{
    auto* self = static_cast<IdleTimer*>(w->data);
    double now = ev_now(loop);
    while (Entry* oldest = self->entries_.front()) {
        if (oldest->last_input_ + self->timeout_ > now)
            break;
        oldest->idle_timeout();
        assert(!decltype(self->entries_)::linked(*oldest));  // it left: the loop moves on
    }
    self->arm();
}
