// Held: the connections one owner holds, each destroyed once it has closed — by a sweep
// before the loop sleeps, never inside its own callback. Owned by that owner (a gate, an
// HTTP server); the connections are owned here.
#pragma once

#include "slots.h"

#include <ev.h>
#include <memory>
#include <vector>

// T is a Connection whose closed_now() calls closed(*this); it befriends Slots<T>.
template <class T>
class Held {
public:
    explicit Held(struct ev_loop* loop) : loop_(loop)
    {
        ev_prepare_init(&sweep_, on_sweep);
        sweep_.data = this;
    }
    ~Held() { ev_prepare_stop(loop_, &sweep_); }
    Held(const Held&) = delete;
    Held& operator=(const Held&) = delete;

    T& add(std::unique_ptr<T> t) { return slots_.add(std::move(t)); }
    // t closed: destroyed before the loop sleeps.
    void closed(T& t)
    {
        if (closed_.empty())
            ev_prepare_start(loop_, &sweep_);
        closed_.push_back(&t);
    }
    // Including the closed ones not yet destroyed.
    size_t size() const { return slots_.size(); }

private:
    static void on_sweep(struct ev_loop* loop, ev_prepare* w, int)
    {
        auto* self = static_cast<Held*>(w->data);
        for (T* t : self->closed_)
            self->slots_.remove(*t);
        self->closed_.clear();
        ev_prepare_stop(loop, w);
    }

    struct ev_loop* loop_;
    Slots<T> slots_;
    std::vector<T*> closed_;
    ev_prepare sweep_;
};
