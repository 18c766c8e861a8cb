// Room log: the shared, append-only record of everything said in the room, kept in chunks.
// Owned by the broadcaster; each client reads it through a cursor of its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <sys/uio.h>

//   chunks_:   | chunk 7 (2 readers) | chunk 8 (0) | chunk 9, the tail (5) |
//              ^ base of 7                                          end() ^
//   Positions count bytes since the log began. Every chunk holds whole lines only (a
//   line that does not fit the tail starts a new chunk), so a chunk boundary is always
//   a line boundary. A cursor counts as a reader of the chunk it stands in, and cursors
//   only move forward: chunks are freed from the front once no cursor stands in them,
//   so memory is what the slowest reader still owes (chunk 8 waits for 7's readers).
class RoomLog {
public:
    struct Cursor {
        uint64_t pos = 0;
        uint64_t chunk = 0;  // sequence number of the chunk the cursor is counted in
        bool open = false;
    };

    struct Skipped {
        uint64_t lines = 0;
        uint64_t bytes = 0;
    };

    explicit RoomLog(size_t chunk_size = 64 * 1024);
    RoomLog(const RoomLog&) = delete;
    RoomLog& operator=(const RoomLog&) = delete;

    uint64_t end() const { return end_; }

    // Appends one line made of parts (the caller includes the '\n').
    void append(std::initializer_list<std::string_view> parts);

    Cursor open_at_end();
    void close(Cursor& c);

    // Fills iov with the bytes from c up to stop (or end()); returns the count used.
    size_t fill(const Cursor& c, uint64_t stop, iovec* iov, size_t max_iov) const;
    void advance(Cursor& c, uint64_t n);

    // For a reader too slow to keep: moves c to end(), first copying the rest of the line
    // c stands inside (if any) to unfinished so the reader never sees half a line.
    Skipped skip_to_end(Cursor& c, std::string& unfinished);

    size_t chunk_count() const { return chunks_.size(); }
    size_t bytes_held() const;

private:
    struct Chunk {
        uint64_t base;
        size_t used;
        size_t cap;
        uint32_t readers;
        std::unique_ptr<char[]> data;
        uint64_t end() const { return base + used; }
    };

    Chunk& chunk(uint64_t seq) { return chunks_[seq - first_seq_]; }
    const Chunk& chunk(uint64_t seq) const { return chunks_[seq - first_seq_]; }
    uint64_t tail_seq() const { return first_seq_ + chunks_.size() - 1; }
    void move_to(Cursor& c, uint64_t seq);
    void release_unread();

    size_t chunk_size_;
    std::deque<Chunk> chunks_;
    uint64_t first_seq_ = 0;
    uint64_t end_ = 0;
    std::unique_ptr<char[]> spare_;  // one freed chunk kept to spare malloc/free per chunk
};
