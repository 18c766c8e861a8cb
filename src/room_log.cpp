// Room log: chunk bookkeeping for appends, cursors and release, and each reader's share
// of the log with its private lines in place.
#include "room_log.h"

#include <algorithm>
#include <cassert>
#include <cstring>

RoomLog::RoomLog(size_t chunk_size, RecordSize record_size) : chunk_size_(chunk_size), record_size_(record_size)
{
    chunks_.push_back(Chunk{0, 0, chunk_size_, 0, std::make_unique<char[]>(chunk_size_)});
}

void RoomLog::append(std::initializer_list<std::string_view> parts)
{
    size_t n = 0;
    for (std::string_view p : parts)
        n += p.size();
    Chunk* tail = &chunks_.back();
    if (tail->cap - tail->used < n) {
        size_t cap = std::max(n, chunk_size_);
        std::unique_ptr<char[]> data;
        if (cap == chunk_size_ && spare_)
            data = std::move(spare_);
        else
            data = std::make_unique<char[]>(cap);
        chunks_.push_back(Chunk{end_, 0, cap, 0, std::move(data)});
        tail = &chunks_.back();
        release_unread();
    }
    char* out = tail->data.get() + tail->used;
    for (std::string_view p : parts) {
        memcpy(out, p.data(), p.size());
        out += p.size();
    }
    tail->used += n;
    end_ += n;
}

RoomLog::Cursor RoomLog::open_at_end()
{
    return open_at(end_);
}

RoomLog::Cursor RoomLog::open_at(uint64_t pos)
{
    assert(pos >= chunks_.front().base && pos <= end_);
    uint64_t seq = first_seq_;
    while (seq < tail_seq() && pos >= chunk(seq).end())
        seq++;
    chunk(seq).readers++;
    return Cursor{pos, seq, true};
}

void RoomLog::close(Cursor& c)
{
    if (!c.open)
        return;
    assert(chunk(c.chunk).readers > 0);
    chunk(c.chunk).readers--;
    c.open = false;
    release_unread();
}

size_t RoomLog::fill(const Cursor& c, uint64_t stop, iovec* iov, size_t max_iov) const
{
    assert(c.open);
    stop = std::min(stop, end_);
    size_t used = 0;
    uint64_t pos = c.pos;
    for (uint64_t seq = c.chunk; seq <= tail_seq() && pos < stop && used < max_iov; seq++) {
        const Chunk& ch = chunk(seq);
        uint64_t to = std::min(stop, ch.end());
        if (to > pos) {
            iov[used].iov_base = ch.data.get() + (pos - ch.base);
            iov[used].iov_len = to - pos;
            used++;
            pos = to;
        }
    }
    return used;
}

void RoomLog::move_to(Cursor& c, uint64_t seq)
{
    if (seq == c.chunk)
        return;
    chunk(c.chunk).readers--;
    chunk(seq).readers++;
    c.chunk = seq;
}

void RoomLog::advance(Cursor& c, uint64_t n)
{
    assert(c.open && c.pos + n <= end_);
    c.pos += n;
    uint64_t seq = c.chunk;
    while (seq < tail_seq() && c.pos >= chunk(seq).end())
        seq++;
    if (seq != c.chunk) {
        move_to(c, seq);
        release_unread();
    }
}

// The end of the record that pos (inside ch) stands in: pos itself at a record boundary.
uint64_t RoomLog::record_end(const Chunk& ch, uint64_t pos) const
{
    const char* data = ch.data.get();
    if (!record_size_) {
        if (pos == ch.base || data[pos - ch.base - 1] == '\n')
            return pos;
        const char* nl = static_cast<const char*>(memchr(data + (pos - ch.base), '\n', ch.end() - pos));
        assert(nl);  // chunks hold whole lines
        return ch.base + (nl + 1 - data);
    }
    uint64_t at = ch.base;  // a chunk begins with a record: walk to the one pos is in
    while (at < pos)
        at += record_size_(data + (at - ch.base));
    assert(at <= ch.end());
    return at;
}

uint64_t RoomLog::count_records(const Chunk& ch, uint64_t from, uint64_t to) const
{
    const char* data = ch.data.get();
    if (!record_size_)
        return std::count(data + (from - ch.base), data + (to - ch.base), '\n');
    uint64_t n = 0;
    for (uint64_t at = from; at < to; n++)
        at += record_size_(data + (at - ch.base));
    return n;
}

RoomLog::Skipped RoomLog::skip_to(Cursor& c, uint64_t to, std::string& unfinished)
{
    assert(c.open && c.pos <= to && to <= end_);
    const Chunk& here = chunk(c.chunk);
    uint64_t pos = c.pos;
    if (pos < to && pos < here.end()) {
        uint64_t end = record_end(here, pos);
        unfinished.append(here.data.get() + (pos - here.base), end - pos);
        pos = end;
    }
    Skipped skipped;
    skipped.bytes = to - pos;
    for (uint64_t seq = c.chunk; seq <= tail_seq(); seq++) {
        const Chunk& ch = chunk(seq);
        uint64_t from = std::max(pos, ch.base), upto = std::min(to, ch.end());
        if (from < upto)
            skipped.lines += count_records(ch, from, upto);
    }
    advance(c, to - c.pos);
    return skipped;
}

std::string_view RoomLog::view(uint64_t pos, size_t n) const
{
    // The last chunk that begins at or before pos (an empty first chunk shares its base
    // with the next).
    auto after = std::upper_bound(chunks_.begin(), chunks_.end(), pos,
                                  [](uint64_t p, const Chunk& ch) { return p < ch.base; });
    assert(after != chunks_.begin());
    const Chunk& ch = *std::prev(after);
    assert(pos + n <= ch.end());
    return {ch.data.get() + (pos - ch.base), n};
}

void RoomLog::release_unread()
{
    while (chunks_.size() > 1 && chunks_.front().readers == 0) {
        Chunk& front = chunks_.front();
        if (front.cap == chunk_size_ && !spare_)
            spare_ = std::move(front.data);
        chunks_.pop_front();
        first_seq_++;
    }
}

size_t RoomLog::bytes_held() const
{
    size_t n = spare_ ? chunk_size_ : 0;
    for (const Chunk& ch : chunks_)
        n += ch.cap;
    return n;
}

uint64_t RoomLog::Reader::here() const
{
    return log_ ? std::min(stop_, log_->end()) : 0;
}

void RoomLog::Reader::open(RoomLog& log)
{
    assert(!log_);
    log_ = &log;
    cursor_ = log.open_at_end();
    stop_ = no_stop;
}

void RoomLog::Reader::stop()
{
    assert(log_);
    stop_ = log_->end();
    if (lent_ && !lent_->placed)
        release_lent();
}

void RoomLog::Reader::close()
{
    release_lent();
    if (!log_)
        return;
    log_->close(cursor_);
    log_ = nullptr;
}

void RoomLog::Reader::lend(RoomLog& history, uint64_t from)
{
    assert(!lent_);
    if (from == history.end())
        return;  // nothing to lend
    lent_ = std::make_unique<Lent>(Lent{&history, history.open_at(from), history.end()});
}

void RoomLog::Reader::greet(std::string text)
{
    push(std::move(text), 0);
    if (lent_ && !lent_->placed) {
        lines_.push_back({0, {}, true});
        lent_->placed = true;
    }
}

// Lets go of the history lent, and of its place among the private lines.
void RoomLog::Reader::release_lent()
{
    if (!lent_)
        return;
    lent_->log->close(lent_->cursor);
    std::erase_if(lines_, [](const Line& line) { return line.history; });
    lent_.reset();
}

uint64_t RoomLog::Reader::backlog() const
{
    return log_ ? here() - cursor_.pos : 0;
}

uint64_t RoomLog::Reader::pending() const
{
    uint64_t n = backlog() + lent_pending();
    for (const Line& line : lines_)
        n += line.text.size();
    return n;
}

size_t RoomLog::Reader::fill(iovec* iov, size_t max_iov) const
{
    uint64_t pos = position();
    size_t used = 0;
    size_t i = 0;
    for (; i < lines_.size() && lines_[i].at <= pos && used < max_iov; i++) {
        if (lines_[i].history)  // whole unless the iovecs ran out, which ends the loop
            used += lent_->log->fill(lent_->cursor, lent_->stop, iov + used, max_iov - used);
        else
            iov[used++] = {const_cast<char*>(lines_[i].text.data()), lines_[i].text.size()};
    }
    bool next_waits = i == lines_.size() || lines_[i].at > pos;
    if (log_ && next_waits && used < max_iov) {
        uint64_t until = std::min(stop_, i < lines_.size() ? lines_[i].at : UINT64_MAX);
        used += log_->fill(cursor_, until, iov + used, max_iov - used);
    }
    return used;
}

void RoomLog::Reader::consume(size_t n)
{
    uint64_t pos = position();
    size_t done = 0;
    while (done < lines_.size() && lines_[done].at <= pos && n > 0) {
        if (lines_[done].history) {
            uint64_t k = std::min<uint64_t>(n, lent_pending());
            lent_->log->advance(lent_->cursor, k);
            n -= k;
            if (lent_pending() > 0)
                break;
            lent_->log->close(lent_->cursor);
            lent_.reset();
            done++;
            continue;
        }
        std::string& text = lines_[done].text;
        size_t k = std::min(n, text.size());
        n -= k;
        if (k < text.size()) {
            text.erase(0, k);
            break;
        }
        done++;
    }
    lines_.erase(lines_.begin(), lines_.begin() + done);
    if (lines_.empty() && lines_.capacity() > 4)
        std::vector<Line>().swap(lines_);
    if (n > 0)
        log_->advance(cursor_, n);
}

RoomLog::Skipped RoomLog::Reader::skip_backlog()
{
    assert(log_);
    std::string unfinished;
    Skipped lent;
    if (lent_ && lent_->placed) {
        // The log is not begun before the history is done: only one of them can hold a
        // line begun, and the history's stays in its place, after the greeting.
        lent = lent_->log->skip_to(lent_->cursor, lent_->stop, unfinished);
        auto place = std::find_if(lines_.begin(), lines_.end(), [](const Line& line) { return line.history; });
        *place = Line{0, std::move(unfinished)};
        if (place->text.empty())
            lines_.erase(place);
        unfinished.clear();
        lent_->log->close(lent_->cursor);
        lent_.reset();
    }
    Skipped skipped = log_->skip_to_end(cursor_, unfinished);
    if (!unfinished.empty())
        lines_.insert(lines_.begin(), Line{0, std::move(unfinished)});
    skipped.lines += lent.lines;
    skipped.bytes += lent.bytes;
    return skipped;
}
