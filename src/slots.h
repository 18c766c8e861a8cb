// Slots: the objects one owner holds, in a vector, each knowing its index, so that one is
// removed in O(1) (the last moves into its place). Pure; the Slots own the objects.
#pragma once

#include <cassert>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

// T has a member `size_t slot_` and befriends Slots<T>; only the Slots touch it.
template <class T>
class Slots {
public:
    T& add(std::unique_ptr<T> t)
    {
        t->slot_ = items_.size();
        items_.push_back(std::move(t));
        return *items_.back();
    }

    // Destroys t. Order is not kept: the last object takes t's place.
    void remove(T& t)
    {
        size_t slot = t.slot_;
        assert(slot < items_.size() && items_[slot].get() == &t);
        if (slot != items_.size() - 1) {
            std::swap(items_[slot], items_.back());
            items_[slot]->slot_ = slot;
        }
        items_.pop_back();
    }

    size_t size() const { return items_.size(); }
    bool empty() const { return items_.empty(); }
    T& operator[](size_t i) const { return *items_[i]; }
    void clear() { items_.clear(); }
    auto begin() const { return items_.begin(); }
    auto end() const { return items_.end(); }

private:
    std::vector<std::unique_ptr<T>> items_;
};
