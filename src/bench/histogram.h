// Histogram: an HDR-style log-linear histogram of non-negative integers (nanoseconds here).
// A value, owned by whoever records into it: the Session, its ConnReads, a scenario.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace bench {

// Fixed size whatever the count: each power of two is split into 128 buckets, so a
// percentile is exact to within 1/128 (0.8 %); values below 256 are exact.
class Histogram {
public:
    Histogram();

    void record(uint64_t value);

    uint64_t max() const { return max_; }
    // The value at percentile p (0..100]: the highest value of the bucket holding the
    // sample of that rank, never above the exact maximum; 0 when empty.
    uint64_t percentile(double p) const;

private:
    static constexpr int sub_bits = 7;  // 2^7 buckets per power of two
    static constexpr size_t sub_count = size_t{1} << sub_bits;
    // Buckets of width 2^shift hold the values whose top bit is bit shift + sub_bits;
    // below 2 * sub_count the width is 1. The largest shift is 63 - sub_bits, whose last
    // index is (63 - sub_bits + 2) * sub_count - 1.
    static constexpr size_t bucket_count = (63 - sub_bits + 2) * sub_count;
    static size_t index(uint64_t value);
    static uint64_t highest(size_t index);

    std::vector<uint64_t> counts_;
    uint64_t count_ = 0;
    uint64_t max_ = 0;
};

}  // namespace bench
