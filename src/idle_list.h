// Idle list: connections in the order of their last input, oldest first.
// Owned by the server; the entries are embedded in the clients, which unlink themselves.
#pragma once

class Client;

// One timer on the oldest entry finds every idle client, with no scan of them all.
// Touching an entry moves it to the back in O(1); the front is always the longest idle.
struct IdleEntry {
    IdleEntry* prev = nullptr;
    IdleEntry* next = nullptr;
    double last_input = 0;
    bool linked = false;
    Client* owner = nullptr;
};

class IdleList {
public:
    void touch(IdleEntry& e, double now)
    {
        if (e.linked)
            remove(e);
        e.last_input = now;
        e.prev = back_;
        e.next = nullptr;
        (back_ ? back_->next : front_) = &e;
        back_ = &e;
        e.linked = true;
    }

    void remove(IdleEntry& e)
    {
        if (!e.linked)
            return;
        (e.prev ? e.prev->next : front_) = e.next;
        (e.next ? e.next->prev : back_) = e.prev;
        e.prev = e.next = nullptr;
        e.linked = false;
    }

    // Every clock starts again now: for a time when no input could be read at all.
    void restart(double now)
    {
        for (IdleEntry* e = front_; e; e = e->next)
            e->last_input = now;
    }

    IdleEntry* front() const { return front_; }
    bool empty() const { return front_ == nullptr; }

private:
    IdleEntry* front_ = nullptr;
    IdleEntry* back_ = nullptr;
};
