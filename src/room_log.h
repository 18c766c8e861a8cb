// Room log: the shared, append-only record of everything said in the room, kept in chunks,
// and its readers. Owned by the broadcaster; each connection owns the Reader it writes from.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <sys/uio.h>
#include <vector>

//   chunks_:   | chunk 7 (2 readers) | chunk 8 (0) | chunk 9, the tail (5) |
//              ^ base of 7                                          end() ^
//   Positions count bytes since the log began. Every chunk holds whole records only (a
//   record that does not fit the tail starts a new chunk), so a chunk boundary is always
//   a record boundary. A record is a line, or in the room's log for WebSocket readers a
//   frame holding one. A cursor counts as a reader of the chunk it stands in, and cursors
//   only move forward: chunks are freed from the front once no cursor stands in them,
//   so memory is what the slowest reader still owes (chunk 8 waits for 7's readers).
class RoomLog {
public:
    class Reader;

    struct Cursor {
        uint64_t pos = 0;
        uint64_t chunk = 0;  // sequence number of the chunk the cursor is counted in
        bool open = false;
    };

    struct Skipped {
        uint64_t lines = 0;  // records: a frame holds one line
        uint64_t bytes = 0;
    };

    // The length of the record that starts at p; null: records are lines, ending in '\n'.
    using RecordSize = size_t (*)(const char* p);

    explicit RoomLog(size_t chunk_size = 64 * 1024, RecordSize record_size = nullptr);
    RoomLog(const RoomLog&) = delete;
    RoomLog& operator=(const RoomLog&) = delete;

    uint64_t end() const { return end_; }

    // Appends one record made of parts (a line: the caller includes the '\n').
    void append(std::initializer_list<std::string_view> parts);

    Cursor open_at_end();
    // A cursor at pos, a record boundary no older than what the log still holds (a cursor
    // standing there, such as the history's own, keeps it).
    Cursor open_at(uint64_t pos);
    void close(Cursor& c);

    // Fills iov with the bytes from c up to stop (or end()); returns the count used.
    size_t fill(const Cursor& c, uint64_t stop, iovec* iov, size_t max_iov) const;
    void advance(Cursor& c, uint64_t n);

    // For a reader too slow to keep: moves c to end(), first copying the rest of the record
    // c stands inside (if any) to unfinished so the reader never sees half a line.
    Skipped skip_to_end(Cursor& c, std::string& unfinished) { return skip_to(c, end_, unfinished); }
    // The same up to `to`, a record boundary.
    Skipped skip_to(Cursor& c, uint64_t to, std::string& unfinished);
    // The n bytes at pos, which lie in one chunk (a record never spans two).
    std::string_view view(uint64_t pos, size_t n) const;

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
    uint64_t record_end(const Chunk& ch, uint64_t pos) const;
    uint64_t count_records(const Chunk& ch, uint64_t from, uint64_t to) const;

    size_t chunk_size_;
    RecordSize record_size_;
    std::deque<Chunk> chunks_;
    uint64_t first_seq_ = 0;
    uint64_t end_ = 0;
    std::unique_ptr<char[]> spare_;  // one freed chunk kept to spare malloc/free per chunk
};

// Everything one connection is owed, in order, as iovecs for one writev: its private
// lines (a greeting, replies, a farewell error), each placed at a position of the log,
// and, from the moment the room admits it (open) until it leaves (stop), the room's log
// from its cursor. A reader the room never opens is a plain queue of private lines. With
// [room] history, the room also lends it the history as it stood at the admission: a span
// of the history's own log, read in place right after the greeting.
//
//   log:      ... | line | line | line | line | line | ...
//                 ^ cursor      ^ private line "at" here     ^ stop (its leave)
//   history:  ... | said | said | said |
//                 ^ lent from          ^ lent up to (the admission: where the cursor began)
class RoomLog::Reader {
public:
    static constexpr uint64_t no_stop = UINT64_MAX;

    Reader() = default;
    ~Reader() { close(); }
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;

    // text goes out once the reader has received the log up to `at` (a line boundary;
    // 0 for "at once"). Never while the reader's send waits in the flush pass's ring: that
    // send may point into a short line's own storage, which this push could move.
    void push(std::string text, uint64_t at) { lines_.push_back({at, std::move(text)}); }
    // Where a private line queued now goes: after everything the room has said to this
    // reader so far.
    uint64_t here() const;

    // The room's side: the reader receives what is appended from now on (open), and
    // nothing appended after now (stop); close() lets go of the log.
    void open(RoomLog& log);
    void stop();
    void close();
    bool is_open() const { return log_ != nullptr; }
    // The history lent at the admission: history's records from `from` to its end now.
    // It goes out after the greeting; a reader that stops before its greeting never gets it.
    void lend(RoomLog& history, uint64_t from);
    // The greeting: text before anything the room says to the reader, then the history lent.
    void greet(std::string text);
    // Whether it reads the room's lines encoded (Broadcaster::set_encoding), as its
    // transport wants them.
    void set_encoded(bool encoded) { encoded_ = encoded; }
    bool encoded() const { return encoded_; }

    // Bytes owed: the private lines and the log from the cursor to the stop.
    uint64_t pending() const;
    // Bytes of the room's log owed (the private lines left out).
    uint64_t backlog() const;
    // The next bytes to write, in order; returns the number of iovecs used.
    size_t fill(iovec* iov, size_t max_iov) const;
    // n bytes of what fill() offered have been written.
    void consume(size_t n);
    // The drop policy: the reader skips the rest of the log (and of a history lent), except
    // the rest of a line it has begun to receive, and private lines already queued stay.
    Skipped skip_backlog();

private:
    struct Line {
        uint64_t at;
        std::string text;
        bool history = false;  // stands for the history lent: its bytes are read from there
    };
    // What is still owed of a history lent; allocated only then, so an idle reader pays a
    // pointer for it.
    struct Lent {
        RoomLog* log;
        Cursor cursor;
        uint64_t stop;
        bool placed = false;  // after the greeting, in lines_
    };

    // Where the reader is in the log; one the room never opened is owed only lines.
    uint64_t position() const { return log_ ? cursor_.pos : UINT64_MAX; }
    uint64_t lent_pending() const { return lent_ && lent_->placed ? lent_->stop - lent_->cursor.pos : 0; }
    void release_lent();

    RoomLog* log_ = nullptr;
    Cursor cursor_;
    uint64_t stop_ = no_stop;
    bool encoded_ = false;
    std::vector<Line> lines_;  // by `at`; a vector, not a deque: an idle reader has none
    std::unique_ptr<Lent> lent_;
};
