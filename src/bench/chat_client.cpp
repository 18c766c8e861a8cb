// Chat client: the protocol's rules for each line heard, and the TCP transport: one
// connection, split into lines by the server's own framer.
#include "bench/chat_client.h"

#include "bench/conn.h"
#include "framer.h"

namespace bench {

namespace {

bool ends_with(std::string_view s, std::string_view tail)
{
    return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

}  // namespace

ChatPeerBase::ChatPeerBase(struct ev_loop* loop, ConnReads& reads, PeerEvents& events, int index)
    : Peer(index), events_(events), conn_(loop, reads, *this)
{
}

bool ChatPeerBase::start(const Target& t, int rcvbuf)
{
    const Endpoint& node = t.node_for(index);
    return conn_.connect(reinterpret_cast<const sockaddr*>(&node.addr), node.len, rcvbuf, t.tls);
}

void ChatPeerBase::hear(std::string_view line, uint64_t now)
{
    if (name_.empty()) {
        static constexpr std::string_view greeting = "You are ";
        if (line.substr(0, greeting.size()) != greeting || line.size() == greeting.size()) {
            events_.garbled(*this, line);
            return;
        }
        name_ = line.substr(greeting.size());
        // The server must name us as the kernel does: our end of the connection.
        std::string ours = conn_.local_name();
        if (name_ != ours)
            events_.garbled(*this, "greeted as " + name_ + ", but the connection is from " + ours);
        events_.joined(*this);
        return;
    }
    // ADDR holds no ": " (an IPv6 ADDR is in brackets), so the first one ends it.
    size_t colon = line.find(": ");
    if (colon != std::string_view::npos)
        events_.heard(*this, line.substr(0, colon), line.substr(colon + 2), now);
    else if (ends_with(line, " has arrived"))
        events_.presence(*this, Presence::arrived, line.substr(0, line.size() - 12));
    else if (ends_with(line, " has left"))
        events_.presence(*this, Presence::left, line.substr(0, line.size() - 9));
    else
        events_.garbled(*this, line);
}

namespace {

class ChatPeer final : public ChatPeerBase {
public:
    ChatPeer(struct ev_loop* loop, ConnReads& reads, PeerEvents& events, int index)
        : ChatPeerBase(loop, reads, events, index)
    {
    }

    void say(std::string_view payload) override
    {
        std::string& out = conn_.out();
        out.append(payload);
        out.push_back('\n');
    }

private:
    void connected(Conn&) override {}
    void data(Conn&, const char* p, size_t n, uint64_t now) override
    {
        auto status = framer_.feed(p, n, [&](std::string_view line) {
            hear(line, now);
            return conn_.is_open();  // the owner may leave on any line
        });
        if (status == LineFramer::Status::too_long) {
            events_.garbled(*this, "a line longer than 1 MiB");
            conn_.close(false);
            events_.closed(*this, "line too long");
        }
    }

    LineFramer framer_{1 << 20};
};

}  // namespace

std::unique_ptr<Peer> make_chat_peer(struct ev_loop* loop, ConnReads& reads, PeerEvents& events,
                                     int index)
{
    return std::make_unique<ChatPeer>(loop, reads, events, index);
}

}  // namespace bench
