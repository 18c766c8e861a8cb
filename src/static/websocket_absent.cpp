// WebSocket, absent: linked into a static build that has no libwslay.a (Debian ships wslay
// only as a shared library), in place of websocket.cpp. The config refuses [websocket]
// listen in such a build (websocket_available), so no WebSocket client is ever made and
// no frame is ever encoded; the encoder the server always holds does nothing.
#include "websocket.h"

#include <cstdlib>

const bool websocket_available = false;

FrameEncoder::FrameEncoder() = default;
FrameEncoder::~FrameEncoder() = default;

namespace {
[[noreturn]] void unreachable()
{
    abort();  // the config refuses every way here
}
}  // namespace

void FrameEncoder::text(std::string&, std::span<const std::string_view>)
{
    unreachable();
}
void FrameEncoder::lines(std::string&, std::string_view)
{
    unreachable();
}
void FrameEncoder::close(std::string&, CloseCode, std::string_view)
{
    unreachable();
}
void FrameEncoder::encode(std::string&, std::initializer_list<std::string_view>)
{
    unreachable();
}
size_t FrameEncoder::frame_size(const char*)
{
    unreachable();
}
WebSocketCodec::~WebSocketCodec() = default;
void WebSocketCodec::decode(const char*, size_t, Sink&)
{
    unreachable();
}
