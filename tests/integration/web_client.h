// Test clients of evchat's HTTP listeners: one HTTP request and its reply, the metrics
// of an exposition, and a WebSocket client (handshake, masked frames out, frames in).
#pragma once

#include "harness.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace itest {

// The port of the nth line holding key followed by the port ("web listening on 127.0.0.1:").
uint16_t logged_port(Server& s, const std::string& key, size_t nth = 1);

struct Reply {
    int status = 0;  // 0: no HTTP answer at all
    std::string head, body, raw;
    bool ended = false;  // the server closed the connection
    // The value of a header field, any case; "" if absent.
    std::string header(const std::string& name) const;
};

Reply parse_reply(std::string raw, bool ended);
// Sends request on a fresh connection and reads until the server closes it.
Reply http(uint16_t port, const std::string& request, double timeout = kTimeout);
Reply get(uint16_t port, const std::string& path);
// "name{labels}" -> value, for every sample of an exposition.
std::map<std::string, double> samples(const std::string& text);
// The value of one sample on s's admin listener; -1 if it has none.
double metric(Server& s, const std::string& sample);

// A WebSocket client, as a browser would be: every frame it sends is masked.
class WsConn {
public:
    // Connects and sends the upgrade for path (with extra header fields, each ending in
    // CRLF). Returns the client once the answer is 101; otherwise nullptr, with the
    // answer in *refused if given. rcvbuf > 0 sets SO_RCVBUF (a reader the kernel cannot
    // hide the stall of).
    // source: the local address to connect from, as for Conn::connect.
    static std::unique_ptr<WsConn> connect(uint16_t port, const std::string& extra = "", Reply* refused = nullptr,
                                           int rcvbuf = 0, const std::string& source = "");

    Conn& conn() { return *conn_; }
    const std::string& addr() const { return conn_->addr(); }
    bool send_text(const std::string& text) { return send_frame(1, text); }
    bool send_frame(int opcode, const std::string& payload, bool fin = true, bool mask = true);

    struct Frame {
        int opcode = -1;  // -1: none (timeout or the connection ended)
        std::string payload;
    };
    Frame read_frame(double timeout = kTimeout);
    // The next text message; a close frame as "<<close CODE>>"; kTimedOut or kEof.
    std::string read_message(double timeout = kTimeout);

private:
    std::unique_ptr<Conn> conn_;
};

// The "<<close CODE>>" read_message() returns for a close frame with that code.
std::string close_mark(int code);

}  // namespace itest
