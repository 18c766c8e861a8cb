// Client: the session's transport over plain TCP, and the output limits.
#include "client.h"

#include <cassert>

Client::Client(Io& io, SessionContext& chat, ClientOwner& owner, Socket socket, std::string addr)
    : Connection(io, std::move(socket), addr), chat_(chat), owner_(owner), session_(chat, *this, out(), std::move(addr))
{
    ev_init(&pause_, on_pause_over);
    pause_.data = this;
}

Client::Client(Io& io, SessionContext& chat, ClientOwner& owner, Socket socket, std::string addr,
               FrameEncoder& frames, std::string response)
    : Client(io, chat, owner, std::move(socket), std::move(addr))
{
    ws_ = std::make_unique<WebSocketCodec>(frames, chat.config.client.max_line_bytes);
    out().set_encoded(true);  // the room's lines as frames, framed once for every such client
    out().push(std::move(response), 0);
}

Client::~Client()
{
    ev_timer_stop(io().loop, &pause_);
}

Transport Client::transport() const
{
    if (ws_)
        return tls() ? Transport::wss : Transport::websocket;
    return tls() ? Transport::tls : Transport::tcp;
}

void Client::start(std::string_view input)
{
    session_.start();
    if (!input.empty())
        received(input.data(), input.size());
    owner_.schedule_flush(*this);
    update_interest();
}

size_t Client::read_size()
{
    return session_.read_allowance(Io::buffer_size);
}

// A client over the soft limit is not read: one that does not read cannot keep talking.
bool Client::wants_input() const
{
    return session_.takes_input() && owed() <= chat_.config.client.output_soft_limit &&
           owner_.input_open();
}

void Client::received(const char* data, size_t n)
{
    chat_.stats.bytes_in += n;
    if (ws_)
        ws_->decode(data, n, *this);
    else
        session_.input(data, n);
    if (chat_.stats.input_held > chat_.config.server.max_input_memory)
        owner_.input_over_budget();
}

void Client::input_ended(bool reset)
{
    session_.input_ended(reset ? LeaveReason::reset : LeaveReason::eof);
    if (reset)
        close_now("reset");
}

// A text message is input like a TCP stream's bytes followed by "\n" (a message holding
// "\n" is several lines).
void Client::message(std::string_view text)
{
    if (!session_.talking())
        return;  // it left earlier in the same read
    std::string line;
    line.reserve(text.size() + 1);
    line.append(text).push_back('\n');
    session_.input(line.data(), line.size());
}

void Client::reply(std::string frames)
{
    out().push(std::move(frames), out().here());
    owner_.schedule_flush(*this);
}

// The client closed (its close frame was answered), or broke the protocol (the close
// that says how was sent): it leaves like any client.
void Client::ended(CloseCode sent, bool by_peer)
{
    LeaveReason why = by_peer                         ? LeaveReason::eof
                      : sent == CloseCode::too_big    ? LeaveReason::line_too_long
                                                      : LeaveReason::protocol_error;
    if (!by_peer)
        chat_.log.write(LogLevel::debug, "%s: WebSocket closed with %u", name().c_str(), static_cast<unsigned>(sent));
    session_.input_ended(why);
}

// Lines of text in the form this client takes: as they are over TCP, a text frame each
// over WebSocket.
std::string Client::in_form(std::string text) const
{
    if (!ws_)
        return text;
    std::string frames;
    ws_->frames().lines(frames, text);
    return frames;
}

void Client::send(std::string text)
{
    out().push(in_form(std::move(text)), out().here());
    owner_.schedule_flush(*this);
}

void Client::greet(std::string text)
{
    out().greet(in_form(std::move(text)));
    owner_.schedule_flush(*this);
}

// A WebSocket conversation ends with a close frame after everything owed, and no frame
// after it.
void Client::say_close(CloseCode code)
{
    if (!ws_ || ws_->close_sent())
        return;
    std::string frame;
    ws_->frames().close(frame, code);
    out().push(std::move(frame), out().here());
    ws_->mark_close_sent();
}

void Client::pause_input(double seconds)
{
    ev_timer_set(&pause_, seconds, 0.0);
    ev_timer_start(io().loop, &pause_);
}

void Client::on_pause_over(struct ev_loop*, ev_timer* w, int)
{
    static_cast<Client*>(w->data)->session_.pause_over();
}

void Client::leaving(LeaveReason reason)
{
    switch (reason) {
    case LeaveReason::line_too_long:
    case LeaveReason::input_memory: say_close(CloseCode::too_big); break;
    case LeaveReason::flood:
    case LeaveReason::access: say_close(CloseCode::policy); break;
    default: say_close(CloseCode::normal); break;
    }
    ev_timer_stop(io().loop, &pause_);
    close_after_output(chat_.config.client.drain_timeout);
    owner_.schedule_flush(*this);
}

void Client::shutdown()
{
    if (closing() && backlog() == 0) {
        close_now("shutdown");  // its output is out; its input no longer matters
        return;
    }
    if (!session_.talking())
        return;
    session_.shutdown();
    say_close(CloseCode::going_away);
    ev_timer_stop(io().loop, &pause_);
    close_after_output(chat_.config.server.shutdown_grace);
    owner_.schedule_flush(*this);
}

void Client::reconfigure()
{
    session_.reconfigure();
    if (ws_)
        ws_->set_max_message(chat_.config.client.max_line_bytes);
    if (session_.member() && timer_running()) {
        stop_timer();  // the soft-limit clock restarts with the new time
        check_backlog();
    }
    update_interest();
}

void Client::room_advanced()
{
    if (closed())
        return;
    session_.room_advanced();
    if (!write_blocked()) {
        flush();
        return;
    }
    check_backlog();
    update_interest();
}

void Client::written(size_t n)
{
    chat_.stats.bytes_out += n;
}

void Client::flushed()
{
    check_backlog();
}

void Client::write_failed()
{
    session_.lost(LeaveReason::write_error);
    close_now("write error");
}

void Client::timed_out()
{
    slow_consumer("over the soft limit for too long");
}

void Client::closed_now()
{
    assert(!session_.talking());  // every way to a close leaves the room first
    ev_timer_stop(io().loop, &pause_);
    owner_.retire(*this);
}

// The output limits, checked whenever a member's backlog may have changed. The connection's
// timer is the soft limit's clock.
void Client::check_backlog()
{
    if (!session_.member())
        return;
    const ClientConfig& config = chat_.config.client;
    uint64_t backlog = owed();
    if (backlog > config.output_hard_limit)
        slow_consumer("over the hard limit");
    else if (backlog <= config.output_soft_limit)
        stop_timer();
    else if (!timer_running())
        start_timer(config.output_soft_seconds);
}

void Client::slow_consumer(const char* why)
{
    assert(session_.member());
    const ClientConfig& config = chat_.config.client;
    uint64_t backlog = owed();
    if (config.slow_policy == SlowPolicy::disconnect) {
        chat_.log.write(LogLevel::warn,
                        "%s disconnected: slow consumer, %s (backlog %llu bytes, soft limit %zu, hard limit %zu)",
                        name().c_str(), why, static_cast<unsigned long long>(backlog), config.output_soft_limit,
                        config.output_hard_limit);
        session_.lost(LeaveReason::slow_consumer);
        close_now("slow consumer");
        return;
    }
    RoomLog::Skipped skipped = out().skip_backlog();
    chat_.stats.lines_dropped += skipped.lines;
    chat_.log.write(LogLevel::warn, "%s slow consumer, %s: dropped %llu lines (%llu bytes)", name().c_str(), why,
                    static_cast<unsigned long long>(skipped.lines), static_cast<unsigned long long>(skipped.bytes));
    // The client is told, once per skip, before the next line it gets and after the line
    // it had begun; but not where the notice alone would put it past its hard limit, which
    // would make the notice the next thing skipped.
    std::string notice =
        in_form("notice: " + std::to_string(skipped.lines) + " lines skipped, you were too slow\n");
    if (skipped.lines > 0 && out().pending() + notice.size() <= config.output_hard_limit) {
        out().push(std::move(notice), out().here());
        owner_.schedule_flush(*this);
    }
    stop_timer();
    update_interest();
}
