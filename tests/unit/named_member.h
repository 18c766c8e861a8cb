// Test helper: a room member with a reader of its own, as a connection would give it.
#pragma once

#include "broadcaster.h"

struct Named : Member {
    explicit Named(std::string name) : Member(std::move(name), own) {}
    RoomLog::Reader own;
};
