// Test clients of evchat's HTTP listeners: requests, replies and WebSocket frames.
#include "web_client.h"

#include <cctype>
#include <cstdlib>
#include <doctest/doctest.h>
#include <random>

namespace itest {

uint16_t logged_port(Server& s, const std::string& key, size_t nth)
{
    REQUIRE_MESSAGE(s.wait_output(key, nth), "no \"" << key << "\" line; output:\n" << s.output_tail());
    std::string out = s.output();
    size_t pos = std::string::npos;
    for (size_t i = 0; i < nth; i++)
        pos = out.find(key, pos == std::string::npos ? 0 : pos + 1);
    return static_cast<uint16_t>(atoi(out.c_str() + pos + key.size()));
}

std::string Reply::header(const std::string& name) const
{
    std::string lower_head = head;
    for (char& c : lower_head)
        c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    std::string key = "\r\n" + name + ":";
    for (char& c : key)
        c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    size_t pos = lower_head.find(key);
    if (pos == std::string::npos)
        return "";
    size_t start = head.find_first_not_of(' ', pos + key.size());
    return head.substr(start, head.find("\r\n", start) - start);
}

Reply parse_reply(std::string raw, bool ended)
{
    Reply r;
    r.raw = std::move(raw);
    r.ended = ended;
    size_t end = r.raw.find("\r\n\r\n");
    if (r.raw.compare(0, 9, "HTTP/1.1 ") == 0 && end != std::string::npos) {
        r.status = atoi(r.raw.c_str() + 9);
        r.head = r.raw.substr(0, end);
        r.body = r.raw.substr(end + 4);
    }
    return r;
}

Reply http(uint16_t port, const std::string& request, double timeout)
{
    auto c = Conn::connect("127.0.0.1", port);
    REQUIRE(c);
    REQUIRE(c->send_all(request));
    bool ended = false;
    std::string raw = c->read_until_eof(timeout, &ended);
    return parse_reply(std::move(raw), ended);
}

Reply get(uint16_t port, const std::string& path)
{
    return http(port, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
}

std::map<std::string, double> samples(const std::string& text)
{
    std::map<std::string, double> out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t eol = text.find('\n', pos);
        std::string line = text.substr(pos, eol - pos);
        pos = eol == std::string::npos ? text.size() : eol + 1;
        if (line.empty() || line[0] == '#')
            continue;
        size_t sp = line.rfind(' ');
        out[line.substr(0, sp)] = strtod(line.c_str() + sp + 1, nullptr);
    }
    return out;
}

double metric(Server& s, const std::string& sample)
{
    auto m = samples(get(logged_port(s, "admin listening on 127.0.0.1:"), "/metrics").body);
    return m.count(sample) ? m[sample] : -1;
}

std::unique_ptr<WsConn> WsConn::connect(uint16_t port, const std::string& extra, Reply* refused, int rcvbuf,
                                        const std::string& source)
{
    auto c = Conn::connect("127.0.0.1", port, rcvbuf, kTimeout, source);
    REQUIRE(c);
    std::string request = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                          "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
                          extra + "\r\n";
    REQUIRE(c->send_all(request));
    // The answer's head, byte by byte: frames may follow it at once.
    std::string head;
    for (std::string line; !is_mark(line = c->read_line()) && line != "\r";)
        head += line + "\n";
    head += "\r\n";
    Reply r = parse_reply(head, false);
    if (r.status != 101) {
        if (refused) {
            bool ended = false;
            *refused = parse_reply(head + c->read_until_eof(kTimeout, &ended), ended);
        }
        return nullptr;
    }
    CHECK(r.header("sec-websocket-accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    std::unique_ptr<WsConn> ws(new WsConn);
    ws->conn_ = std::move(c);
    return ws;
}

bool WsConn::send_frame(int opcode, const std::string& payload, bool fin, bool mask)
{
    static std::mt19937 rng(12345);
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
    char key[4];
    for (char& k : key)
        k = static_cast<char>(rng());
    if (mask)
        f.append(key, 4);
    for (size_t i = 0; i < n; i++)
        f += mask ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i];
    return conn_->send_all(f);
}

WsConn::Frame WsConn::read_frame(double timeout)
{
    Frame f;
    std::string head = conn_->read_bytes(2, timeout);
    if (head.size() < 2)
        return f;
    uint64_t n = static_cast<uint8_t>(head[1]) & 0x7f;
    if (n >= 126) {
        std::string ext = conn_->read_bytes(n == 126 ? 2 : 8, timeout);
        n = 0;
        for (char c : ext)
            n = n << 8 | static_cast<uint8_t>(c);
    }
    CHECK((static_cast<uint8_t>(head[1]) & 0x80) == 0);  // a server never masks
    f.payload = conn_->read_bytes(n, timeout);
    if (f.payload.size() == n)
        f.opcode = static_cast<uint8_t>(head[0]) & 0x0f;
    return f;
}

std::string close_mark(int code)
{
    return "<<close " + std::to_string(code) + ">>";
}

std::string WsConn::read_message(double timeout)
{
    Frame f = read_frame(timeout);
    if (f.opcode == -1)
        return conn_->ended() ? kEof : kTimedOut;
    if (f.opcode == 8) {
        int code = f.payload.size() >= 2 ? (static_cast<uint8_t>(f.payload[0]) << 8 | static_cast<uint8_t>(f.payload[1]))
                                         : 1005;
        return close_mark(code);
    }
    return f.payload;
}

}  // namespace itest
