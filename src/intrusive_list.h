// Intrusive list: objects that link themselves into one ordered list, O(1) to append and
// to unlink, with no allocation. Pure; the list owns nothing, each object embeds its link.
#pragma once

#include <cassert>

template <class T>
struct ListLink {
    T* prev = nullptr;
    T* next = nullptr;
    bool linked = false;
};

// T embeds a ListLink<T> as the member Link; an object is in at most one list per link.
template <class T, ListLink<T> T::*Link>
class IntrusiveList {
public:
    IntrusiveList() = default;
    IntrusiveList(const IntrusiveList&) = delete;
    IntrusiveList& operator=(const IntrusiveList&) = delete;

    void push_back(T& t)
    {
        ListLink<T>& l = t.*Link;
        assert(!l.linked);
        l.prev = back_;
        l.next = nullptr;
        (back_ ? (back_->*Link).next : front_) = &t;
        back_ = &t;
        l.linked = true;
    }

    // Unlinks t if it is linked.
    void remove(T& t)
    {
        ListLink<T>& l = t.*Link;
        if (!l.linked)
            return;
        (l.prev ? (l.prev->*Link).next : front_) = l.next;
        (l.next ? (l.next->*Link).prev : back_) = l.prev;
        l = ListLink<T>{};
    }

    T* front() const { return front_; }
    bool empty() const { return front_ == nullptr; }
    static T* next(const T& t) { return (t.*Link).next; }
    static bool linked(const T& t) { return (t.*Link).linked; }

    // Calls f(T&) for each object, front to back; f must not unlink any.
    template <class F>
    void each(F&& f) const
    {
        for (T* t = front_; t; t = next(*t))
            f(*t);
    }

private:
    T* front_ = nullptr;
    T* back_ = nullptr;
};
