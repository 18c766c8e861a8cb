// Payload: the text of a data line, "<sender> <seq> <send-ns> xxx…" padded to a fixed
// size. It lets every receiver check each sender's order (seq is exactly the previous
// plus one) and measure one-way latency (send-ns is the sender's now_ns()).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace bench {

struct Data {
    uint32_t sender = 0;
    uint64_t seq = 0;
    uint64_t sent_ns = 0;
};

// Replaces out with the payload of d, padded with " xxx…" to size bytes when the three
// numbers take fewer.
void format_data(std::string& out, const Data& d, size_t size);
// Reads a payload format_data() wrote; false for any other text.
bool parse_data(std::string_view s, Data& d);

}  // namespace bench
