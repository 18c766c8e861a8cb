// Redis client: SUBSCRIBE/PUBLISH requests and the parsing of their replies.
#include "bench/redis_client.h"

#include "bench/conn.h"

#include <charconv>
#include <cstring>
#include <optional>

namespace bench {

namespace {

constexpr std::string_view channel = "evchat-bench";

// Parses one reply of a subscribed connection at [p, end): an array of at most three
// bulk strings or integers. Returns its length, 0 if it is not all there yet, -1 if it
// is not RESP of that shape.
long parse_push(const char* p, const char* end, std::string_view (&item)[3], int& items)
{
    const char* q = p;
    // The text up to the next CRLF, after which q moves; nullopt: not all there yet.
    auto line = [&]() -> std::optional<std::string_view> {
        auto* nl = static_cast<const char*>(memchr(q, '\n', end - q));
        if (!nl)
            return std::nullopt;
        std::string_view s(q, nl - q);
        q = nl + 1;
        if (!s.empty() && s.back() == '\r')
            s.remove_suffix(1);
        return s;
    };
    auto number = [](std::string_view s, long& v) {
        auto [e, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        return ec == std::errc() && e == s.data() + s.size();
    };
    if (q == end)
        return 0;
    if (*q++ != '*')
        return -1;
    auto head = line();
    long count = 0;
    if (!head)
        return 0;
    if (!number(*head, count) || count < 1 || count > 3)
        return -1;
    items = static_cast<int>(count);
    for (int i = 0; i < items; i++) {
        if (q == end)
            return 0;
        char type = *q++;
        auto s = line();
        if (!s)
            return 0;
        long len = 0;
        if (type == ':') {
            if (!number(*s, len))
                return -1;
            item[i] = *s;
        } else if (type == '$') {
            if (!number(*s, len) || len < 0)
                return -1;
            if (end - q < len + 2)
                return 0;
            if (q[len] != '\r' || q[len + 1] != '\n')
                return -1;
            item[i] = std::string_view(q, static_cast<size_t>(len));
            q += len + 2;
        } else {
            return -1;
        }
    }
    return q - p;
}

void append_bulk(std::string& out, std::string_view s)
{
    out += '$';
    out += std::to_string(s.size());
    out += "\r\n";
    out.append(s);
    out += "\r\n";
}

class RedisPeer final : public Peer {
public:
    RedisPeer(struct ev_loop* loop, ConnReads& reads, PeerEvents& events, int index, bool speaker)
        : Peer(index), events_(events), sub_(loop, reads, sub_side_)
    {
        if (speaker)
            pub_ = std::make_unique<Conn>(loop, reads, pub_side_);
    }

    bool start(const Target& t, int rcvbuf) override
    {
        const Endpoint& node = t.node_for(index);
        auto* to = reinterpret_cast<const sockaddr*>(&node.addr);
        if (!sub_.connect(to, node.len, rcvbuf, t.tls))
            return false;
        std::string& out = sub_.out();
        out += "*2\r\n";
        append_bulk(out, "SUBSCRIBE");
        append_bulk(out, channel);
        if (pub_ && !pub_->connect(to, node.len, 0, t.tls)) {
            sub_.close(false);
            return false;
        }
        return true;
    }
    void say(std::string_view payload) override
    {
        std::string& out = pub_->out();
        out += "*3\r\n";
        append_bulk(out, "PUBLISH");
        append_bulk(out, channel);
        append_bulk(out, payload);
    }
    void flush() override
    {
        if (pub_)
            pub_->flush();
    }
    size_t unsent() const override { return pub_ ? pub_->unsent() : 0; }
    void set_reading(bool on) override { sub_.set_reading(on); }
    void close(bool reset) override
    {
        sub_.close(reset);
        if (pub_)
            pub_->close(reset);
    }

private:
    // The subscriber: the confirmation, then the channel's messages.
    struct Subscriber final : Conn::Handler {
        RedisPeer& peer;
        explicit Subscriber(RedisPeer& p) : peer(p) {}
        void connected(Conn&) override {}
        void data(Conn&, const char* p, size_t n, uint64_t now) override { peer.sub_data(p, n, now); }
        void closed(Conn&, const char* why) override { peer.lost(why); }
    };
    // The publisher: its replies are only ":N" (receivers), read and checked.
    struct Publisher final : Conn::Handler {
        RedisPeer& peer;
        explicit Publisher(RedisPeer& p) : peer(p) {}
        void connected(Conn&) override { peer.pub_connected_ = true; peer.maybe_joined(); }
        void data(Conn&, const char* p, size_t n, uint64_t) override { peer.pub_data(p, n); }
        void closed(Conn&, const char* why) override { peer.lost(why); }
    };

    void maybe_joined()
    {
        if (subscribed_ && (!pub_ || pub_connected_) && !joined_) {
            joined_ = true;
            events_.joined(*this);
        }
    }

    void lost(const char* why)
    {
        close(false);
        events_.closed(*this, why);
    }

    void sub_data(const char* p, size_t n, uint64_t now)
    {
        // Parse straight from the read buffer when no reply is split across reads.
        const char* start = p;
        const char* end = p + n;
        if (!partial_.empty()) {
            partial_.append(p, n);
            start = partial_.data();
            end = start + partial_.size();
        }
        const char* q = start;
        while (q < end && sub_.is_open()) {
            std::string_view item[3];
            int items = 0;
            long used = parse_push(q, end, item, items);
            if (used == 0)
                break;
            if (used < 0) {
                events_.garbled(*this, std::string_view(q, std::min<size_t>(end - q, 80)));
                lost("unreadable reply");
                return;
            }
            q += used;
            if (items == 3 && item[0] == "message" && item[1] == channel) {
                events_.heard(*this, "", item[2], now);
            } else if (items == 3 && item[0] == "subscribe" && item[1] == channel) {
                subscribed_ = true;
                maybe_joined();
            } else {
                events_.garbled(*this, std::string_view(q - used, std::min<long>(used, 80)));
            }
        }
        if (!sub_.is_open())
            return;
        std::string rest(q, end - q);
        partial_.swap(rest);
    }

    void pub_data(const char* p, size_t n)
    {
        pub_partial_.append(p, n);
        size_t from = 0;
        for (size_t nl; (nl = pub_partial_.find('\n', from)) != std::string::npos; from = nl + 1)
            if (pub_partial_[from] != ':')
                events_.garbled(*this, std::string_view(pub_partial_).substr(from, nl - from));
        pub_partial_.erase(0, from);
    }

    PeerEvents& events_;
    Subscriber sub_side_{*this};
    Publisher pub_side_{*this};
    Conn sub_;
    std::unique_ptr<Conn> pub_;
    bool subscribed_ = false;
    bool pub_connected_ = false;
    bool joined_ = false;
    std::string partial_;      // the start of a subscriber reply split across reads
    std::string pub_partial_;  // the same for the publisher
};

}  // namespace

std::unique_ptr<Peer> make_redis_peer(struct ev_loop* loop, ConnReads& reads, PeerEvents& events,
                                      int index, bool speaker)
{
    return std::make_unique<RedisPeer>(loop, reads, events, index, speaker);
}

}  // namespace bench
