// Test helper: a relay that holds the room's events until the test hands them back, in
// order, as Redis would. Owned by the test; it owns the events it holds.
#pragma once

#include "broadcaster.h"

#include <string>
#include <string_view>
#include <vector>

struct HeldRelay : Relay {
    struct Held {
        RoomEvent::Kind kind;
        std::string name, text;
        Member* arriving;
    };
    std::vector<Held> held;

    void publish(const RoomEvent& e, Member* arriving) override
    {
        held.push_back({e.kind, std::string(e.name), std::string(e.text), arriving});
    }
    void forget(Member& m) override
    {
        for (Held& h : held)
            if (h.arriving == &m)
                h.arriving = nullptr;
    }
    // Every event held, applied as coming from origin ({}: this node); counted as the
    // stream's entries up to a snapshot are.
    void deliver(Broadcaster& room, std::string_view origin = {}, bool counted = false)
    {
        for (Held& h : held)
            room.apply({h.kind, h.name, h.text}, h.arriving, origin, counted);
        held.clear();
    }
};
