// Room history: lines in, trimmed by count and bytes, lent to newcomers in place.
#include "room_history.h"

#include "broadcaster.h"

#include <cassert>
#include <string>

RoomHistory::Track::Track(RoomLog::RecordSize record_size) : log(64 * 1024, record_size), oldest(log.open_at_end())
{
}

RoomHistory::Track::~Track()
{
    log.close(oldest);
}

void RoomHistory::Track::add(std::initializer_list<std::string_view> line)
{
    starts.push_back(log.end());
    log.append(line);
}

void RoomHistory::Track::forget_trimmed()
{
    uint64_t to = starts.empty() ? log.end() : starts.front();
    log.advance(oldest, to - oldest.pos);
}

RoomHistory::RoomHistory() = default;
RoomHistory::~RoomHistory() = default;

void RoomHistory::set_limits(size_t lines, size_t bytes)
{
    max_lines_ = lines;
    max_bytes_ = bytes;
    trim();
}

void RoomHistory::add(std::initializer_list<std::string_view> line, std::string_view encoded)
{
    assert(encoded_kept_ == !encoded.empty());
    plain_.add(line);
    if (encoded_kept_)
        encoded_->add({encoded});
    trim();
}

void RoomHistory::trim()
{
    size_t n = 0;
    while (n < plain_.starts.size() &&
           (plain_.starts.size() - n > max_lines_ || plain_.log.end() - plain_.starts[n] > max_bytes_))
        n++;
    if (n == 0)
        return;
    plain_.starts.erase(plain_.starts.begin(), plain_.starts.begin() + n);
    plain_.forget_trimmed();
    if (encoded_kept_) {
        encoded_->starts.erase(encoded_->starts.begin(), encoded_->starts.begin() + n);
        encoded_->forget_trimmed();
    }
}

// The encoded form is kept only while someone reads it, so the first such reader pays
// for encoding what is kept (once, at most max_lines_ lines), and nobody pays meanwhile.
void RoomHistory::keep_encoded(LineEncoding& encoding)
{
    if (encoded_kept_)
        return;
    if (!encoded_)
        encoded_ = std::make_unique<Track>(encoding.record_size());
    assert(encoded_->starts.empty());
    std::string frame;
    for (size_t i = 0; i < plain_.starts.size(); i++) {
        uint64_t end = i + 1 < plain_.starts.size() ? plain_.starts[i + 1] : plain_.log.end();
        frame.clear();
        encoding.encode(frame, {plain_.log.view(plain_.starts[i], end - plain_.starts[i])});
        encoded_->add({frame});
    }
    encoded_->forget_trimmed();
    encoded_kept_ = true;
}

void RoomHistory::drop_encoded()
{
    if (!encoded_kept_)
        return;
    encoded_->starts.clear();
    encoded_->forget_trimmed();
    encoded_kept_ = false;
}

size_t RoomHistory::lend(RoomLog::Reader& reader)
{
    assert(!reader.encoded() || encoded_kept_);
    Track& track = reader.encoded() ? *encoded_ : plain_;
    if (!track.starts.empty())
        reader.lend(track.log, track.starts.front());
    return track.starts.size();
}

size_t RoomHistory::bytes_held() const
{
    return plain_.log.bytes_held() + (encoded_ ? encoded_->log.bytes_held() : 0);
}
