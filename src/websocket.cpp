// WebSocket: wslay's frame layer writing into memory, and its event layer reading one
// client's frames, its context let go whenever no frame is unfinished.
#include "websocket.h"

#include "utf8.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <wslay/wslay.h>

const bool websocket_available = true;

namespace {

// Frames the encoder sends go into the string being built; user_data is the encoder's
// pointer to it.
ssize_t append_sent(const uint8_t* data, size_t len, int, void* user_data)
{
    (*static_cast<std::string**>(user_data))->append(reinterpret_cast<const char*>(data), len);
    return static_cast<ssize_t>(len);
}

// A frame written by the encoder, read back a byte at a time (its header is at most 10
// bytes, and its end is unknown until the header is read).
struct ByteSource {
    const char* p;
};

ssize_t next_byte(uint8_t* buf, size_t, int, void* user_data)
{
    auto* src = static_cast<ByteSource*>(user_data);
    *buf = static_cast<uint8_t>(*src->p++);
    return 1;
}

// A client's frame: its header (masked: a client must mask) and payload. wslay refuses a
// length not in its shortest form, so this is exact for every frame it takes.
uint64_t client_frame_size(uint64_t payload)
{
    return 2 + (payload < 126 ? 0 : payload < 65536 ? 2 : 8) + 4 + payload;
}

}  // namespace

FrameEncoder::FrameEncoder()
{
    static const wslay_frame_callbacks callbacks = {append_sent, nullptr, nullptr};
    int rc = wslay_frame_context_init(&ctx_, &callbacks, &out_);
    assert(rc == 0);
    (void)rc;
}

FrameEncoder::~FrameEncoder()
{
    wslay_frame_context_free(ctx_);
}

void FrameEncoder::frame(std::string& out, uint8_t opcode, std::string_view payload)
{
    wslay_frame_iocb iocb{};
    iocb.fin = 1;
    iocb.opcode = opcode;
    iocb.payload_length = payload.size();
    iocb.data = reinterpret_cast<const uint8_t*>(payload.data());
    iocb.data_length = payload.size();
    out_ = &out;
    ssize_t sent = wslay_frame_send(ctx_, &iocb);
    assert(sent == static_cast<ssize_t>(payload.size()));
    (void)sent;
}

void FrameEncoder::text(std::string& out, std::span<const std::string_view> parts)
{
    payload_.clear();
    for (std::string_view part : parts)
        append_utf8_repaired(payload_, part);
    frame(out, WSLAY_TEXT_FRAME, payload_);
}

void FrameEncoder::lines(std::string& out, std::string_view lines)
{
    while (!lines.empty()) {
        size_t nl = lines.find('\n');
        std::string_view line = lines.substr(0, nl);
        text(out, {&line, 1});
        lines.remove_prefix(nl == std::string_view::npos ? lines.size() : nl + 1);
    }
}

void FrameEncoder::encode(std::string& out, std::initializer_list<std::string_view> line)
{
    std::string_view parts[8];
    assert(line.size() <= 8);
    size_t n = 0;
    for (std::string_view part : line)
        parts[n++] = part;
    assert(n > 0 && !parts[n - 1].empty() && parts[n - 1].back() == '\n');
    parts[n - 1].remove_suffix(1);
    text(out, {parts, n});
}

void FrameEncoder::close(std::string& out, CloseCode code, std::string_view reason)
{
    uint16_t c = static_cast<uint16_t>(code);
    std::string payload{static_cast<char>(c >> 8), static_cast<char>(c & 0xff)};
    payload.append(reason.substr(0, 123));  // a control frame holds at most 125 bytes
    frame(out, WSLAY_CONNECTION_CLOSE, payload);
}

size_t FrameEncoder::frame_size(const char* p)
{
    ByteSource src{p};
    wslay_frame_callbacks callbacks = {nullptr, next_byte, nullptr};
    wslay_frame_context_ptr ctx;
    if (wslay_frame_context_init(&ctx, &callbacks, &src) != 0)
        return 0;
    wslay_frame_iocb iocb{};
    ssize_t r;
    while ((r = wslay_frame_recv(ctx, &iocb)) == WSLAY_ERR_WANT_READ) {
    }
    wslay_frame_context_free(ctx);
    assert(r >= 0 && !iocb.mask);
    uint64_t header = 2 + (iocb.payload_length < 126 ? 0 : iocb.payload_length < 65536 ? 2 : 8);
    return static_cast<size_t>(header + iocb.payload_length);
}

// wslay's callbacks, with the codec as user data.
struct WebSocketCodec::Callbacks {
    static WebSocketCodec& codec(void* user_data) { return *static_cast<WebSocketCodec*>(user_data); }

    static ssize_t recv(wslay_event_context_ptr ctx, uint8_t* buf, size_t len, int, void* user_data)
    {
        WebSocketCodec& self = codec(user_data);
        if (self.input_.empty()) {
            wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
            return -1;
        }
        size_t n = std::min(len, self.input_.size());
        memcpy(buf, self.input_.data(), n);
        self.input_.remove_prefix(n);
        self.fed_ += n;
        return static_cast<ssize_t>(n);
    }

    static ssize_t send(wslay_event_context_ptr, const uint8_t* data, size_t len, int, void* user_data)
    {
        codec(user_data).replies_.append(reinterpret_cast<const char*>(data), len);
        return static_cast<ssize_t>(len);
    }

    static void frame_start(wslay_event_context_ptr, const wslay_event_on_frame_recv_start_arg* arg,
                            void* user_data)
    {
        WebSocketCodec& self = codec(user_data);
        self.frame_ = client_frame_size(arg->payload_length);
        if (arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME ||
            arg->opcode == WSLAY_CONTINUATION_FRAME)
            self.in_message_ = !arg->fin;
    }

    static void frame_end(wslay_event_context_ptr, void* user_data)
    {
        WebSocketCodec& self = codec(user_data);
        self.framed_ += self.frame_;
    }

    static void message(wslay_event_context_ptr ctx, const wslay_event_on_msg_recv_arg* arg, void* user_data)
    {
        WebSocketCodec& self = codec(user_data);
        if (arg->opcode == WSLAY_TEXT_FRAME) {
            self.sink_->message(std::string_view(reinterpret_cast<const char*>(arg->msg), arg->msg_length));
        } else if (arg->opcode == WSLAY_BINARY_FRAME) {
            wslay_event_queue_close(ctx, static_cast<uint16_t>(CloseCode::unsupported_data),
                                    reinterpret_cast<const uint8_t*>("text only"), 9);
            wslay_event_shutdown_read(ctx);
        }
    }
};

WebSocketCodec::~WebSocketCodec()
{
    if (ctx_)
        wslay_event_context_free(ctx_);
}

void WebSocketCodec::decode(const char* data, size_t n, Sink& sink)
{
    if (ended_)
        return;
    if (!ctx_) {
        static const wslay_event_callbacks callbacks = {
            Callbacks::recv,       Callbacks::send,      nullptr,           Callbacks::frame_start, nullptr,
            Callbacks::frame_end, Callbacks::message};
        if (wslay_event_context_server_init(&ctx_, &callbacks, this) != 0) {
            ctx_ = nullptr;
            ended_ = true;
            sink.ended(CloseCode::going_away, false);
            return;
        }
    }
    wslay_event_config_set_max_recv_msg_length(ctx_, max_message_);
    sink_ = &sink;
    input_ = std::string_view(data, n);
    wslay_event_recv(ctx_);
    input_ = {};
    // A close the client's side sent while a message was being taken (it left) ends the
    // conversation: wslay's own replies must not follow it.
    bool by_peer = wslay_event_get_close_received(ctx_);
    CloseCode sent = CloseCode::normal;
    if (!close_sent_) {
        wslay_event_send(ctx_);
        close_sent_ = wslay_event_get_close_sent(ctx_);
        sent = static_cast<CloseCode>(wslay_event_get_status_code_sent(ctx_));
        // wslay ends a frame it cannot parse (a control frame over 125 bytes, a length not
        // in its shortest form) with a close of no status: it is a protocol error, said so.
        static constexpr std::string_view empty_close("\x88\x00", 2);
        if (close_sent_ && !by_peer && replies_.ends_with(empty_close)) {
            replies_.resize(replies_.size() - empty_close.size());
            sent = CloseCode::protocol_error;
            frames_.close(replies_, sent);
        }
        if (!replies_.empty())
            sink.reply(std::move(replies_));
    }
    replies_.clear();
    if (!wslay_event_get_read_enabled(ctx_) && !ended_) {
        ended_ = true;
        sink.ended(sent, by_peer);
    }
    sink_ = nullptr;
    release_if_idle();
}

// Every byte given to wslay belongs to a finished frame, no message is half there, and
// nothing waits to be sent: wslay holds no state worth its 8.8 KB.
void WebSocketCodec::release_if_idle()
{
    if (!ctx_ || ended_ || fed_ != framed_ || in_message_ || wslay_event_get_queued_msg_count(ctx_) > 0)
        return;
    wslay_event_context_free(ctx_);
    ctx_ = nullptr;
    fed_ = framed_ = 0;
}
