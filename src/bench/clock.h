// Clock: the generator's one time base, CLOCK_MONOTONIC in nanoseconds.
// Stateless.
#pragma once

#include <cstdint>
#include <ctime>

namespace bench {

// Send stamps in payloads and receive times are both read here, in the same process, so
// one-way latency needs no clock synchronisation.
inline uint64_t now_ns()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

inline double seconds(uint64_t ns) { return static_cast<double>(ns) / 1e9; }

}  // namespace bench
