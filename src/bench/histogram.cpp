// Histogram: bucket arithmetic and percentiles.
#include "bench/histogram.h"

#include <cmath>

namespace bench {

Histogram::Histogram() : counts_(bucket_count, 0) {}

size_t Histogram::index(uint64_t value)
{
    if (value < 2 * sub_count)
        return static_cast<size_t>(value);
    int top = 63 - __builtin_clzll(value);
    int shift = top - sub_bits;
    return static_cast<size_t>(shift) * sub_count + static_cast<size_t>(value >> shift);
}

uint64_t Histogram::highest(size_t index)
{
    if (index < 2 * sub_count)
        return index;
    size_t shift = index / sub_count - 1;
    uint64_t mantissa = index - shift * sub_count;  // sub_count..2 * sub_count - 1
    return ((mantissa + 1) << shift) - 1;
}

void Histogram::record(uint64_t value)
{
    counts_[index(value)]++;
    count_++;
    if (value > max_)
        max_ = value;
}

uint64_t Histogram::percentile(double p) const
{
    if (count_ == 0)
        return 0;
    uint64_t rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); i++) {
        seen += counts_[i];
        if (seen >= rank)
            return highest(i) < max_ ? highest(i) : max_;
    }
    return max_;
}

}  // namespace bench
