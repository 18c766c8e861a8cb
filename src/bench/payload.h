// Payload: the texts peers say in the room — data lines, and churners' lines.
// Stateless.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace bench {

// A data line, "<sender> <seq> <send-ns> xxx…" padded to a fixed size. It lets every
// receiver check each sender's order (seq is exactly the previous plus one) and measure
// one-way latency (send-ns is the sender's now_ns()).
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

// A churner's line, "churn <peer index>": it leaves once it hears the line back, and the
// observer checks that the line came under the churner's own ADDR.
std::string format_churn(int index);
// Reads a line format_churn() wrote; false for any other text. The index is not checked.
bool parse_churn(std::string_view s, int& index);

}  // namespace bench
