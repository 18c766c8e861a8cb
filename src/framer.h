// Line framer: splits a client's byte stream into lines exactly as Go's bufio.ScanLines.
// Owned by the connection it frames; holds only that connection's unfinished line.
#pragma once

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

// A line without its '\n' loses one '\r' at its end, as bufio's dropCR does.
inline std::string_view drop_cr(std::string_view s)
{
    if (!s.empty() && s.back() == '\r')
        s.remove_suffix(1);
    return s;
}

// Lines end at '\n'; one '\r' before it is dropped; every other byte is kept as is.
// A line may be at most max_line bytes counting its '\n' (bufio.Scanner's 64 KiB
// buffer rule), so the unfinished part never grows past max_line - 1 bytes.
class LineFramer {
public:
    enum class Status { ok, too_long, stopped };

    explicit LineFramer(size_t max_line) : max_line_(max_line) {}

    // Calls on_line(std::string_view) for each complete line in data; on_line returns
    // false to stop after that line, and *used (if given) then tells how much of data
    // was framed: the rest is the caller's to feed again later. Views are valid only
    // during the call. Lines wholly inside data are passed without copying.
    template <class OnLine>
    Status feed(const char* data, size_t n, OnLine&& on_line, size_t* used = nullptr)
    {
        const char* p = data;
        const char* end = data + n;
        while (p < end) {
            const char* nl = static_cast<const char*>(memchr(p, '\n', end - p));
            if (!nl) {
                if (partial_.size() + (end - p) >= max_line_) {
                    reset();
                    return Status::too_long;
                }
                partial_.append(p, end - p);
                break;
            }
            size_t piece = nl - p;
            if (partial_.size() + piece + 1 > max_line_) {
                reset();
                return Status::too_long;
            }
            bool go_on;
            if (partial_.empty()) {
                go_on = on_line(drop_cr(std::string_view(p, piece)));
            } else {
                partial_.append(p, piece);
                go_on = on_line(drop_cr(partial_));
                reset();
            }
            p = nl + 1;
            if (!go_on) {
                if (used)
                    *used = p - data;
                return Status::stopped;
            }
        }
        if (used)
            *used = n;
        return Status::ok;
    }

    // At end of input: the unfinished line, if any, is a line of its own (ScanLines at EOF).
    template <class OnLine>
    void finish(OnLine&& on_line)
    {
        if (partial_.empty())
            return;
        on_line(drop_cr(partial_));
        reset();
    }

    size_t pending() const { return partial_.size(); }
    // The heap the unfinished line takes (none while it fits in the string itself).
    size_t held_bytes() const { return partial_.capacity() > std::string().capacity() ? partial_.capacity() : 0; }
    // Forgets the unfinished line: its sender is gone.
    void discard() { reset(); }
    size_t max_line() const { return max_line_; }
    void set_max_line(size_t max_line) { max_line_ = max_line; }

private:
    // A long line must not leave its buffer behind in an idle connection.
    void reset()
    {
        if (partial_.capacity() > 256)
            std::string().swap(partial_);
        else
            partial_.clear();
    }

    std::string partial_;
    size_t max_line_;
};
