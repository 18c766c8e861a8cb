// Idle timer: the sessions in the order of their last input, oldest first, and one timer
// set for the oldest. Owned by the server; each session embeds its entry.
#pragma once

#include "intrusive_list.h"

#include <ev.h>

// One timer finds every idle session with no scan of them all: input moves an entry to
// the back in O(1), so the front is always the longest idle.
class IdleTimer {
public:
    class Entry {
    public:
        // Sent nothing for the timeout: must leave, which removes the entry.
        virtual void idle_timeout() = 0;

    protected:
        ~Entry() = default;

    private:
        friend class IdleTimer;
        ListLink<Entry> link_;
        double last_input_ = 0;
    };

    explicit IdleTimer(struct ev_loop* loop);
    ~IdleTimer();
    IdleTimer(const IdleTimer&) = delete;
    IdleTimer& operator=(const IdleTimer&) = delete;

    // 0: never.
    void set_timeout(double seconds);
    // e's input arrived now.
    void touch(Entry& e);
    // e no longer counts (it left).
    void remove(Entry& e);
    // While no input can be read at all (a cluster's link is down) nobody is idle: paused,
    // the timer does not fire, and on resuming every clock starts again.
    void set_paused(bool paused);

private:
    static void on_timer(struct ev_loop* loop, ev_timer* w, int revents);
    void arm();

    struct ev_loop* loop_;
    double timeout_ = 0;
    bool paused_ = false;
    IntrusiveList<Entry, &Entry::link_> entries_;
    ev_timer timer_;
};
