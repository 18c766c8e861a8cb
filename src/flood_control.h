// Flood control: one client's token buckets on its input, in lines and in bytes, and the
// run of throttling it is in. Pure: times come in as arguments. Owned by its session.
#pragma once

#include "config.h"
#include "token_bucket.h"

#include <cstddef>

// Input over a rate is not refused but paused until the bucket refills, so TCP holds the
// sender back; only a sender that never lets up (disconnect_after) is put out.
class FloodControl {
public:
    // The limits are read at each call, so a reload applies at once.
    explicit FloodControl(const FloodConfig& limits);

    // The most bytes to read now: what the byte bucket holds (at least 1), at most max.
    size_t read_allowance(double now, size_t max);
    void bytes_read(size_t n);
    // Before a read's lines are taken.
    void lines_begin(double now);
    // One line taken: whether another may be taken now.
    bool line_taken();

    struct Verdict {
        enum class Action { go_on, pause, disconnect } action = Action::go_on;
        double wait = 0;          // pause: seconds until the buckets allow input again
        bool run_began = false;   // pause: the first of a run of pauses (logged once)
        double flooding_for = 0;  // disconnect: how long the run has lasted
    };
    // After a read's lines were taken: held is whether input waits unframed (the line
    // bucket ran dry in the middle of it).
    Verdict check(double now, bool held);
    // The pause is over; more: input still waits (held, or unread on the socket). Only a
    // pause with nothing more waiting ends the run.
    void pause_over(bool more);
    bool paused() const { return paused_; }

private:
    const FloodConfig& limits_;
    TokenBucket lines_;
    TokenBucket bytes_;
    double flooding_since_ = 0;  // start of the current run of pauses, or 0
    bool paused_ = false;
};
