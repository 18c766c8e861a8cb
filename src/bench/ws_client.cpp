// WebSocket chat client: the opening handshake, and frames through wslay's frame layer —
// masked ones out, the server's in. A frame is read in place (no copy, no allocation)
// when wslay hands it over whole, as it does but at the edge of its 4 KiB buffer.
#include "bench/ws_client.h"

#include "address.h"
#include "bench/chat_client.h"
#include "websocket_handshake.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string>
#include <wslay/wslay.h>

namespace bench {

namespace {

// Masks need not be secret here, only varied: a xorshift generator, seeded once.
uint64_t mask_state = 0;

uint32_t next_mask()
{
    if (mask_state == 0 && (RAND_bytes(reinterpret_cast<unsigned char*>(&mask_state), sizeof mask_state) != 1 ||
                            mask_state == 0))
        mask_state = 0x9e3779b97f4a7c15u;
    mask_state ^= mask_state << 13;
    mask_state ^= mask_state >> 7;
    mask_state ^= mask_state << 17;
    return static_cast<uint32_t>(mask_state >> 16);
}

// A fresh Sec-WebSocket-Key: 16 random bytes in base64.
std::string random_key()
{
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1)
        for (size_t i = 0; i < sizeof raw; i += 4) {
            uint32_t m = next_mask();
            memcpy(raw + i, &m, 4);
        }
    unsigned char b64[4 * ((sizeof raw + 2) / 3) + 1];
    int n = EVP_EncodeBlock(b64, raw, sizeof raw);
    return std::string(reinterpret_cast<char*>(b64), static_cast<size_t>(n));
}

// The value of header field name (lower case) in an HTTP head; "" if absent.
std::string field(std::string_view head, std::string_view name)
{
    size_t pos = head.find("\r\n");
    while (pos != std::string_view::npos && pos + 2 < head.size()) {
        size_t start = pos + 2, end = head.find("\r\n", start);
        std::string_view line = head.substr(start, end == std::string_view::npos ? end : end - start);
        size_t colon = line.find(':');
        if (colon == name.size() &&
            std::equal(name.begin(), name.end(), line.begin(), [](char a, char b) {
                return a == (b >= 'A' && b <= 'Z' ? b - 'A' + 'a' : b);
            })) {
            std::string_view v = line.substr(colon + 1);
            while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
                v.remove_prefix(1);
            while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
                v.remove_suffix(1);
            return std::string(v);
        }
        pos = end;
    }
    return "";
}

class WsPeer final : public ChatPeerBase {
public:
    WsPeer(struct ev_loop* loop, ConnReads& reads, PeerEvents& events, int index)
        : ChatPeerBase(loop, reads, events, index)
    {
        wslay_frame_callbacks callbacks{send_bytes, recv_bytes, gen_mask};
        if (wslay_frame_context_init(&frames_, &callbacks, this) != 0)
            throw std::bad_alloc();
    }
    ~WsPeer() override { wslay_frame_context_free(frames_); }

    bool start(const Target& t, int rcvbuf) override
    {
        const Endpoint& node = t.node_for(index);
        host_ = format_address(reinterpret_cast<const sockaddr*>(&node.addr));
        origin_scheme_ = t.tls ? "https://" : "http://";  // the page's origin is the server's
        return ChatPeerBase::start(t, rcvbuf);
    }
    void say(std::string_view payload) override { send_frame(WSLAY_TEXT_FRAME, payload); }

private:
    // The upgrade goes out as soon as the connection is made.
    void connected(Conn&) override
    {
        key_ = random_key();
        std::string& out = conn_.out();
        out.insert(0, "GET /ws HTTP/1.1\r\nHost: " + host_ +
                          "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key_ +
                          "\r\nSec-WebSocket-Version: 13\r\nOrigin: " + origin_scheme_ + host_ + "\r\n\r\n");
    }

    void data(Conn&, const char* p, size_t n, uint64_t now) override
    {
        if (!upgraded_) {
            head_.append(p, n);
            size_t end = head_.find("\r\n\r\n");
            if (end == std::string::npos) {
                if (head_.size() > 8192)
                    refuse("an HTTP answer head over 8 KiB");
                return;
            }
            std::string_view head(head_.data(), end + 2);
            if (head.substr(0, 13) != "HTTP/1.1 101 ") {
                refuse("upgrade refused: " + std::string(head.substr(0, head.find('\r'))));
                return;
            }
            if (field(head, "sec-websocket-accept") != websocket_accept(key_)) {
                refuse("a 101 without the key's Sec-WebSocket-Accept");
                return;
            }
            upgraded_ = true;
            std::string rest = head_.substr(end + 4);
            std::string().swap(head_);
            if (!rest.empty())
                frames(rest.data(), rest.size(), now);
            return;
        }
        frames(p, n, now);
    }

    // Hands p..p+n to wslay, and what it makes of them to the protocol.
    void frames(const char* p, size_t n, uint64_t now)
    {
        in_ = p;
        in_left_ = n;
        while (conn_.is_open()) {
            wslay_frame_iocb iocb{};
            ssize_t r = wslay_frame_recv(frames_, &iocb);
            if (r == WSLAY_ERR_WANT_READ)
                break;
            if (r < 0) {
                violation("a frame wslay cannot read");
                break;
            }
            chunk(iocb, now);
        }
        in_ = nullptr;
        in_left_ = 0;
    }

    // One piece of a frame's payload: a whole frame, or part of one that crosses the end
    // of wslay's buffer (then gathered in message_ or control_).
    void chunk(const wslay_frame_iocb& f, uint64_t now)
    {
        const char* data = reinterpret_cast<const char*>(f.data);
        bool control = wslay_is_ctrl_frame(f.opcode);
        if (frame_got_ == 0) {  // a frame begins
            if (f.mask || f.rsv) {
                violation(f.mask ? "a masked frame from the server" : "a frame with a reserved bit");
                return;
            }
            if (!control && f.opcode == WSLAY_TEXT_FRAME && !in_message_ && f.fin &&
                f.data_length == f.payload_length) {
                hear(std::string_view(data, f.data_length), now);  // the usual case
                return;
            }
            if (control) {
                control_.clear();
            } else if (f.opcode != WSLAY_CONTINUATION_FRAME ? in_message_ || f.opcode != WSLAY_TEXT_FRAME
                                                            : !in_message_) {
                violation(f.opcode == WSLAY_BINARY_FRAME ? "a binary message" : "a frame out of sequence");
                return;
            } else if (!in_message_) {
                message_.clear();
                in_message_ = true;
            }
        }
        (control ? control_ : message_).append(data, f.data_length);
        frame_got_ += f.data_length;
        if (frame_got_ < f.payload_length)
            return;
        frame_got_ = 0;
        if (control)
            controlled(f.opcode);
        else if (f.fin) {
            in_message_ = false;
            hear(message_, now);
        }
    }

    void controlled(uint8_t opcode)
    {
        if (opcode == WSLAY_PING) {
            send_frame(WSLAY_PONG, control_);
            conn_.flush();
        } else if (opcode == WSLAY_CONNECTION_CLOSE) {
            int status = control_.size() >= 2 ? static_cast<unsigned char>(control_[0]) << 8 |
                                                    static_cast<unsigned char>(control_[1])
                                              : 0;
            why_ = "closed by the server (close " + std::to_string(status) + ")";
            conn_.close(false);
            events_.closed(*this, why_.c_str());
        } else if (opcode != WSLAY_PONG) {
            violation("an unknown control frame");
        }
    }

    void send_frame(uint8_t opcode, std::string_view payload)
    {
        wslay_frame_iocb f{};
        f.fin = 1;
        f.opcode = opcode;
        f.mask = 1;
        f.payload_length = payload.size();
        f.data = reinterpret_cast<const uint8_t*>(payload.data());
        f.data_length = payload.size();
        // send_bytes takes everything, so one call sends the whole frame.
        if (wslay_frame_send(frames_, &f) != static_cast<ssize_t>(payload.size()))
            events_.garbled(*this, "wslay could not frame a line");
    }

    void refuse(std::string why)
    {
        why_ = std::move(why);
        conn_.close(false);
        events_.closed(*this, why_.c_str());
    }

    void violation(const char* what)
    {
        events_.garbled(*this, what);
        if (conn_.is_open())
            refuse(std::string("protocol error: ") + what);
    }

    static ssize_t send_bytes(const uint8_t* data, size_t len, int, void* user)
    {
        static_cast<WsPeer*>(user)->conn_.out().append(reinterpret_cast<const char*>(data), len);
        return static_cast<ssize_t>(len);
    }
    static ssize_t recv_bytes(uint8_t* buf, size_t len, int, void* user)
    {
        WsPeer& w = *static_cast<WsPeer*>(user);
        size_t n = std::min(len, w.in_left_);
        memcpy(buf, w.in_, n);
        w.in_ += n;
        w.in_left_ -= n;
        return static_cast<ssize_t>(n);  // 0: wslay wants more than there is
    }
    static int gen_mask(uint8_t* buf, size_t len, void*)
    {
        for (size_t i = 0; i < len; i += 4) {
            uint32_t m = next_mask();
            memcpy(buf + i, &m, std::min<size_t>(4, len - i));
        }
        return 0;
    }

    wslay_frame_context_ptr frames_ = nullptr;
    std::string host_, key_;
    const char* origin_scheme_ = "http://";
    std::string head_;  // the answer to the upgrade, until it is complete
    bool upgraded_ = false;
    const char* in_ = nullptr;  // what frames() has not yet handed to wslay
    size_t in_left_ = 0;
    uint64_t frame_got_ = 0;  // payload bytes of the current frame so far
    bool in_message_ = false;  // a text message continues in the next frame
    std::string message_, control_;
    std::string why_;  // why the connection ended, for events_.closed
};

}  // namespace

std::unique_ptr<Peer> make_websocket_peer(struct ev_loop* loop, ConnReads& reads, PeerEvents& events,
                                          int index)
{
    return std::make_unique<WsPeer>(loop, reads, events, index);
}

}  // namespace bench
