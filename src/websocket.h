// WebSocket: frames with wslay (RFC 6455) — those the server sends, built once into memory
// and the same bytes for every client, and those one client sends, decoded by its codec.
// The encoder is owned by the server; each WebSocket client owns its codec.
#pragma once

#include "broadcaster.h"

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>

struct wslay_frame_context;
struct wslay_event_context;

// Whether this build has WebSocket: false in a static build without libwslay.a, whose
// config refuses [websocket] listen.
extern const bool websocket_available;

// Close codes of RFC 6455 7.4.1 that evchat sends.
enum class CloseCode : uint16_t {
    normal = 1000,
    going_away = 1001,
    protocol_error = 1002,
    unsupported_data = 1003,
    invalid_payload = 1007,
    policy = 1008,
    too_big = 1009,
    try_again_later = 1013,
};

// Server frames: unmasked, so a line's frame is the same bytes for every reader; as the
// room's LineEncoding, each line the room says becomes one text frame, once.
class FrameEncoder final : public LineEncoding {
public:
    FrameEncoder();
    ~FrameEncoder();
    FrameEncoder(const FrameEncoder&) = delete;
    FrameEncoder& operator=(const FrameEncoder&) = delete;

    // Appends one text frame holding the parts one after another, each ill-formed UTF-8
    // sequence replaced by U+FFFD (a TCP client's bytes may be anything).
    void text(std::string& out, std::span<const std::string_view> parts);
    // Appends one text frame per line of lines (each ending in '\n', which is left out).
    void lines(std::string& out, std::string_view lines);
    void close(std::string& out, CloseCode code, std::string_view reason = {});
    // The length of the frame this encoder wrote at p (for a reader that must finish the
    // frame it has begun before it skips the rest).
    static size_t frame_size(const char* p);

    // LineEncoding: the line without its "\n", as one text frame.
    void encode(std::string& out, std::initializer_list<std::string_view> line) override;
    RoomLog::RecordSize record_size() const override { return frame_size; }

private:
    void frame(std::string& out, uint8_t opcode, std::string_view payload);

    wslay_frame_context* ctx_ = nullptr;
    std::string* out_ = nullptr;  // where the frame being sent goes
    std::string payload_;         // scratch: the repaired text
};

// One client's frames in: masked frames, fragments reassembled, pings answered, the close
// handshake, and wslay's checks (masking, opcodes, control frames, UTF-8, size). wslay's
// context takes 8.8 KB, so it is held only while a frame or message is unfinished: an idle
// client holds none.
class WebSocketCodec {
public:
    // What the decoding tells its client.
    class Sink {
    public:
        // A whole text message.
        virtual void message(std::string_view text) = 0;
        // Frames to send back (a pong, the close that answers or ends), in order.
        virtual void reply(std::string frames) = 0;
        // The client ended the conversation (by_peer: its close frame) or broke the
        // protocol (code is what was sent back); nothing more is read.
        virtual void ended(CloseCode sent, bool by_peer) = 0;

    protected:
        ~Sink() = default;
    };

    // max_message: the longest message taken (1009 beyond it); frames makes the close
    // wslay would send without a status.
    WebSocketCodec(FrameEncoder& frames, size_t max_message) : frames_(frames), max_message_(max_message) {}
    ~WebSocketCodec();
    WebSocketCodec(const WebSocketCodec&) = delete;
    WebSocketCodec& operator=(const WebSocketCodec&) = delete;

    void decode(const char* data, size_t n, Sink& sink);
    void set_max_message(size_t max_message) { max_message_ = max_message; }
    // A close frame has been sent (by wslay, answering one): no other may follow.
    bool close_sent() const { return close_sent_; }
    void mark_close_sent() { close_sent_ = true; }
    bool holds_context() const { return ctx_ != nullptr; }
    // The encoder of the frames this client is sent.
    FrameEncoder& frames() const { return frames_; }

private:
    struct Callbacks;

    void release_if_idle();

    FrameEncoder& frames_;
    size_t max_message_;
    wslay_event_context* ctx_ = nullptr;
    Sink* sink_ = nullptr;       // during decode()
    std::string_view input_;     // during decode(): what wslay has yet to read
    uint64_t fed_ = 0;           // bytes given to the context so far
    uint64_t framed_ = 0;        // bytes of the frames it has finished
    uint64_t frame_ = 0;         // bytes of the frame it is reading
    std::string replies_;        // during decode(): frames wslay sends back
    bool in_message_ = false;    // a fragmented message is unfinished
    bool close_sent_ = false;
    bool ended_ = false;
};
