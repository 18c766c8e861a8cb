// Flood control: the two buckets and the run of pauses.
#include "flood_control.h"

#include <algorithm>

FloodControl::FloodControl(const FloodConfig& limits) : limits_(limits)
{
    lines_.reset(limits.lines_burst);
    bytes_.reset(limits.bytes_burst);
}

size_t FloodControl::read_allowance(double now, size_t max)
{
    if (limits_.bytes_per_second <= 0)
        return max;
    bytes_.refill(limits_.bytes_per_second, limits_.bytes_burst, now);
    return static_cast<size_t>(std::clamp(bytes_.tokens(), 1.0, static_cast<double>(max)));
}

void FloodControl::bytes_read(size_t n)
{
    if (limits_.bytes_per_second > 0)
        bytes_.take(static_cast<double>(n));
}

void FloodControl::lines_begin(double now)
{
    if (limits_.lines_per_second > 0)
        lines_.refill(limits_.lines_per_second, limits_.lines_burst, now);
}

bool FloodControl::line_taken()
{
    if (limits_.lines_per_second <= 0)
        return true;
    lines_.take(1);
    return lines_.tokens() >= 1;
}

FloodControl::Verdict FloodControl::check(double now, bool held)
{
    double wait = 0;
    if (limits_.lines_per_second > 0)
        wait = lines_.wait(1, limits_.lines_per_second);
    if (limits_.bytes_per_second > 0)
        wait = std::max(wait, bytes_.wait(1, limits_.bytes_per_second));
    Verdict v;
    if (wait <= 0 && !held) {
        flooding_since_ = 0;
        return v;
    }
    if (flooding_since_ == 0) {
        flooding_since_ = now;
        v.run_began = true;
    } else if (limits_.disconnect_after > 0 && now - flooding_since_ > limits_.disconnect_after) {
        v.action = Verdict::Action::disconnect;
        v.flooding_for = now - flooding_since_;
        return v;
    }
    v.action = Verdict::Action::pause;
    v.wait = std::max(wait, 0.001);
    paused_ = true;
    return v;
}

void FloodControl::pause_over(bool more)
{
    paused_ = false;
    if (!more)
        flooding_since_ = 0;  // a burst later on is a new run, not this one's continuation
}
