// Room history: the last lines said in the room (chat lines and /me, as they were
// broadcast), kept once for every newcomer. Owned by the broadcaster; pure.
#pragma once

#include "room_log.h"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <memory>
#include <string_view>

class LineEncoding;

// The lines sit in a log of their own, so that a newcomer reads them in place, as it reads
// the room's log: lending the history costs a cursor, never a copy. The oldest line kept
// is held by the history's own cursor; trimming moves it on, and the chunks behind it go
// once no newcomer still reads them.
//
//   log:      | trimmed | line | line | line | line |
//                       ^ oldest (starts.front())  ^ end: the next line said
//
// While WebSocket readers are in the room (keep_encoded) the same lines are also kept
// framed, in a second log, once for all of them.
class RoomHistory {
public:
    RoomHistory();
    ~RoomHistory();
    RoomHistory(const RoomHistory&) = delete;
    RoomHistory& operator=(const RoomHistory&) = delete;

    // At most `lines` lines of at most `bytes` bytes in all, as said; the oldest go first.
    // A line longer than `bytes` is not kept at all. Applies at once.
    void set_limits(size_t lines, size_t bytes);
    size_t max_lines() const { return max_lines_; }
    size_t max_bytes() const { return max_bytes_; }
    // A line said now: its parts, the last ending in '\n'; encoded is the same line in the
    // encoded form, while that form is kept (empty otherwise).
    void add(std::initializer_list<std::string_view> line, std::string_view encoded);
    // From now on the lines are kept encoded too; those already kept are encoded now.
    void keep_encoded(LineEncoding& encoding);
    // No reader wants the encoded form any more: it is no longer kept (what readers still
    // read of it stays until they are done).
    void drop_encoded();
    bool encoded_kept() const { return encoded_kept_; }

    // Lends the reader the history as it stands, in the form the reader reads
    // (RoomLog::Reader::lend); returns the count of lines lent.
    size_t lend(RoomLog::Reader& reader);

    size_t lines() const { return plain_.starts.size(); }
    // Bytes of the lines kept, as said.
    uint64_t bytes() const { return plain_.starts.empty() ? 0 : plain_.log.end() - plain_.starts.front(); }
    // Memory held by the logs, chunks that newcomers still read included.
    size_t bytes_held() const;

private:
    struct Track {
        explicit Track(RoomLog::RecordSize record_size = nullptr);
        ~Track();
        void add(std::initializer_list<std::string_view> line);
        // The lines before starts.front() are gone: the cursor moves up to it.
        void forget_trimmed();

        RoomLog log;
        std::deque<uint64_t> starts;  // where each line kept begins, oldest first
        RoomLog::Cursor oldest;       // holds the chunks from the oldest line kept on
    };

    void trim();

    Track plain_;
    std::unique_ptr<Track> encoded_;  // made by the first keep_encoded()
    bool encoded_kept_ = false;
    size_t max_lines_ = 0;
    size_t max_bytes_ = 0;
};
