// Presence summary: the arrivals and leaves of one interval, said as one line cut to the
// line limit ([room] presence = "summary"). Owned by the broadcaster; pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

// "+3 arrived: a, b, c; -1 left: d", leaving out a part that is empty. The names are kept
// only as far as a line could show them, so a storm of arrivals costs a count, not a list.
class PresenceSummary {
public:
    // The least max_line with which any counts fit (each up to 20 digits, lists cut to none).
    static constexpr size_t min_line = 128;

    // max_line: the longest line said, its "\n" included (at least min_line).
    explicit PresenceSummary(size_t max_line = 65536) : max_line_(max_line) {}

    void set_max_line(size_t max_line) { max_line_ = max_line; }
    void arrived(std::string_view name) { arrivals_.add(name, max_line_); }
    void left(std::string_view name) { leaves_.add(name, max_line_); }
    bool empty() const { return arrivals_.count == 0 && leaves_.count == 0; }
    // The line, with its "\n", at most max_line bytes: each list is as many whole names as
    // fit, in order, then "(+K more)" for the rest. Then the summary starts over, empty.
    std::string take();

private:
    // One part's names in order: all counted, the first listed.
    struct Names {
        uint64_t count = 0;
        uint64_t listed = 0;
        std::string list;  // "a, b, c": the first `listed` names
        void add(std::string_view name, size_t max_line);
        // The list in at most `width` bytes: whole, or cut with "(+K more)".
        std::string fitted(size_t width) const;
        // The width of the whole list, or SIZE_MAX if it was not all kept.
        size_t whole() const { return listed == count ? list.size() : SIZE_MAX; }
    };

    Names arrivals_, leaves_;
    size_t max_line_;
};
