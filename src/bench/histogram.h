// Histogram: an HDR-style log-linear histogram of non-negative integers (nanoseconds
// here). Fixed size whatever the count: each power of two is split into 128 buckets,
// so a percentile is exact to within 1/128 (0.8 %); values below 256 are exact.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace bench {

class Histogram {
public:
    Histogram();

    void record(uint64_t value);

    uint64_t count() const { return count_; }
    uint64_t max() const { return max_; }
    // The value at percentile p (0..100]: the highest value of the bucket holding the
    // sample of that rank, never above the exact maximum; 0 when empty.
    uint64_t percentile(double p) const;

private:
    static constexpr int sub_bits = 7;  // 2^7 buckets per power of two
    static size_t index(uint64_t value);
    static uint64_t highest(size_t index);

    std::vector<uint64_t> counts_;
    uint64_t count_ = 0;
    uint64_t max_ = 0;
};

}  // namespace bench
