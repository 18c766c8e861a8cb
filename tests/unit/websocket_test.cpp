// WebSocket: the opening handshake's checks and answer, the server's frames, and a
// client's frames decoded — fragments, pings, the close, wslay's refusals — with wslay's
// context held only while a frame is unfinished.
#include "websocket.h"
#include "websocket_handshake.h"

#include <cstring>
#include <doctest/doctest.h>
#include <string>
#include <vector>

namespace {

HttpRequest upgrade(const std::string& extra = "", const std::string& version = "13")
{
    std::string text = "GET /ws HTTP/1.1\r\nHost: chat.example:8080\r\nUpgrade: websocket\r\n"
                       "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: " +
                       version + "\r\n" + extra + "\r\n";
    HttpRequest req;
    REQUIRE(parse_http_request(text, 8192, req));
    REQUIRE(req.status == 0);
    return req;
}

// A client's frame: masked, as a client must send it.
std::string client_frame(uint8_t opcode, const std::string& payload, bool fin = true, bool mask = true)
{
    std::string f(1, static_cast<char>((fin ? 0x80 : 0) | opcode));
    size_t n = payload.size();
    char m = mask ? static_cast<char>(0x80) : 0;
    if (n < 126) {
        f += static_cast<char>(m | n);
    } else if (n < 65536) {
        f += static_cast<char>(m | 126);
        f += static_cast<char>(n >> 8);
        f += static_cast<char>(n & 0xff);
    } else {
        f += static_cast<char>(m | 127);
        for (int i = 7; i >= 0; i--)
            f += static_cast<char>((n >> (8 * i)) & 0xff);
    }
    const char key[4] = {0x11, 0x22, 0x33, 0x44};
    if (mask)
        f.append(key, 4);
    for (size_t i = 0; i < n; i++)
        f += mask ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i];
    return f;
}

struct Recorder : WebSocketCodec::Sink {
    std::vector<std::string> messages;
    std::string replies;
    bool over = false, by_peer = false;
    CloseCode code{};
    void message(std::string_view text) override { messages.emplace_back(text); }
    void reply(std::string frames) override { replies += frames; }
    void ended(CloseCode sent, bool peer) override
    {
        over = true;
        code = sent;
        by_peer = peer;
    }
};

// The close code in a close frame the server sent (unmasked, short).
int close_code(const std::string& frames)
{
    size_t at = frames.rfind(std::string("\x88", 1));
    if (at == std::string::npos || frames.size() < at + 4)
        return -1;
    return (static_cast<uint8_t>(frames[at + 2]) << 8) | static_cast<uint8_t>(frames[at + 3]);
}

}  // namespace

TEST_CASE("the handshake: RFC 6455's example key, and each refusal")
{
    CHECK(websocket_accept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    UpgradeVerdict ok = check_upgrade(upgrade(), {}, false);
    CHECK(ok.status == 0);
    CHECK(upgrade_response(ok.accept).find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") !=
          std::string::npos);
    CHECK(check_upgrade(upgrade("", "8"), {}, false).status == 426);
    HttpRequest no_key;
    REQUIRE(parse_http_request("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
                               "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n",
                               8192, no_key));
    CHECK(check_upgrade(no_key, {}, false).status == 400);
    HttpRequest plain;
    REQUIRE(parse_http_request("GET /ws HTTP/1.1\r\nHost: h\r\n\r\n", 8192, plain));
    CHECK(check_upgrade(plain, {}, false).status == 400);
    HttpRequest old;
    REQUIRE(parse_http_request("GET /ws HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 8192, old));
    CHECK(check_upgrade(old, {}, false).status == 400);
}

TEST_CASE("the Origin allow-list: the page's own origin by default, a list, or any")
{
    CHECK(check_upgrade(upgrade("Origin: http://chat.example:8080\r\n"), {}, false).status == 0);
    CHECK(check_upgrade(upgrade("Origin: https://chat.example:8080\r\n"), {}, true).status == 0);
    CHECK(check_upgrade(upgrade("Origin: https://chat.example:8080\r\n"), {}, false).status == 403);
    CHECK(check_upgrade(upgrade("Origin: http://evil.example\r\n"), {}, false).status == 403);
    CHECK(check_upgrade(upgrade("Origin: http://evil.example\r\n"), {"*"}, false).status == 0);
    CHECK(check_upgrade(upgrade("Origin: http://friend.example\r\n"), {"http://friend.example"}, false).status == 0);
    CHECK(check_upgrade(upgrade("Origin: http://chat.example:8080\r\n"), {"http://friend.example"}, false).status ==
          403);
    CHECK(check_upgrade(upgrade(), {"http://friend.example"}, false).status == 0);  // not a browser
}

TEST_CASE("server frames: text of every length, UTF-8 repaired, and their sizes read back")
{
    FrameEncoder enc;
    for (size_t n : {0, 1, 125, 126, 65535, 65536, 200000}) {
        std::string out;
        std::string text(n, 'x');
        enc.text(out, std::vector<std::string_view>{text});
        size_t header = n < 126 ? 2 : n < 65536 ? 4 : 10;
        CHECK(out.size() == header + n);
        CHECK(static_cast<uint8_t>(out[0]) == 0x81);
        CHECK((static_cast<uint8_t>(out[1]) & 0x80) == 0);  // never masked
        CHECK(FrameEncoder::frame_size(out.data()) == out.size());
    }
    std::string out;
    enc.encode(out, {"A", ": ", "\xff ok", "\n"});
    CHECK(out == "\x81\x09" "A: \xef\xbf\xbd ok");
    std::string lines;
    enc.lines(lines, "one\ntwo\n");
    CHECK(lines == "\x81\x03one\x81\x03two");
    std::string close;
    enc.close(close, CloseCode::going_away);
    CHECK(close == std::string("\x88\x02\x03\xe9", 4));
}

TEST_CASE("a client's frames: messages in any pieces, fragments joined, pings answered")
{
    FrameEncoder enc;
    WebSocketCodec codec(enc, 1000);
    Recorder r;
    std::string in = client_frame(1, "hello") + client_frame(1, "frag", false) + client_frame(9, "p") +
                     client_frame(0, "mented") + client_frame(1, std::string(300, 'y'));
    for (size_t cut : {1, 3, 7, 1000}) {
        r = Recorder();
        WebSocketCodec c(enc, 1000);
        for (size_t i = 0; i < in.size(); i += cut)
            c.decode(in.data() + i, std::min(cut, in.size() - i), r);
        REQUIRE(r.messages.size() == 3);
        CHECK(r.messages[0] == "hello");
        CHECK(r.messages[1] == "fragmented");
        CHECK(r.messages[2] == std::string(300, 'y'));
        CHECK(r.replies == std::string("\x8a\x01p", 3));  // the pong
        CHECK(!r.over);
        CHECK(!c.holds_context());  // nothing unfinished: an idle client holds no context
    }
    codec.decode(in.data(), 4, r);
    CHECK(codec.holds_context());  // half a frame
}

TEST_CASE("a client's close is answered, and each broken rule gets the close RFC 6455 names")
{
    struct Case {
        std::string in;
        int code;
        bool by_peer;
    };
    std::string close_payload = std::string("\x03\xe8", 2) + "bye";
    std::vector<Case> cases = {
        {client_frame(8, close_payload), 1000, true},
        {client_frame(1, "unmasked", true, false), 1002, false},
        {client_frame(3, "x"), 1002, false},                               // a reserved opcode
        {client_frame(2, "binary"), 1003, false},                          // binary: text only
        {client_frame(1, "bad \xff utf-8"), 1007, false},
        {client_frame(1, std::string(1001, 'z')), 1009, false},           // over max_message
        {client_frame(1, "a", false) + client_frame(1, "b"), 1002, false},  // a new message mid-message
        {client_frame(9, std::string(126, 'p')), 1002, false},            // a control frame over 125
        {std::string("\x81\xfe\x00\x05\x11\x22\x33\x44hello", 13), 1002, false},  // length not in its shortest form
    };
    FrameEncoder enc;
    for (const Case& c : cases) {
        CAPTURE(c.code);
        WebSocketCodec codec(enc, 1000);
        Recorder r;
        codec.decode(c.in.data(), c.in.size(), r);
        CHECK(r.over);
        CHECK(static_cast<int>(r.code) == c.code);
        CHECK(r.by_peer == c.by_peer);
        CHECK(close_code(r.replies) == c.code);
        CHECK(codec.close_sent());
        r.replies.clear();
        codec.decode(c.in.data(), c.in.size(), r);  // nothing more is read, or said
        CHECK(r.replies.empty());
    }
}
