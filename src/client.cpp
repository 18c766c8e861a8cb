// Client: reading and framing input, writing output from the room's log, and the rules
// for a connection's end.
#include "client.h"

#include "commands.h"
#include "server.h"

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

namespace {

constexpr size_t max_iov = 64;

void set_active(struct ev_loop* loop, ev_io* w, bool active)
{
    if (active && !ev_is_active(w))
        ev_io_start(loop, w);
    else if (!active && ev_is_active(w))
        ev_io_stop(loop, w);
}

}  // namespace

Client::Client(Server& server, int fd, std::string addr, std::string host)
    : server_(server), fd_(fd), host_(std::move(host)), framer_(server.config().max_line_bytes)
{
    member_.name = std::move(addr);
    ev_io_init(&read_w_, on_read, fd_, EV_READ);
    ev_io_init(&write_w_, on_write, fd_, EV_WRITE);
    ev_init(&timer_, on_timer);
    ev_init(&throttle_timer_, on_throttle_over);
    read_w_.data = write_w_.data = timer_.data = throttle_timer_.data = this;
    idle_.owner = this;
    line_tokens_.reset(server.config().flood_lines_burst);
    byte_tokens_.reset(server.config().flood_bytes_burst);
}

Client::~Client()
{
    ev_io_stop(server_.loop(), &read_w_);
    ev_io_stop(server_.loop(), &write_w_);
    ev_timer_stop(server_.loop(), &timer_);
    ev_timer_stop(server_.loop(), &throttle_timer_);
    server_.forget_idle(idle_);
    if (claiming_)
        server_.cancel_claim(*this);
    give_back_name();
    server_.room().release(member_);
    close(fd_);
}

// A name held across the nodes is free for others once this client is out of the room.
void Client::give_back_name()
{
    if (!holds_name_)
        return;
    holds_name_ = false;
    server_.release_name(*this);
}

void Client::join()
{
    server_.touch_idle(idle_);
    if (server_.config().names) {
        state_ = State::naming;
        out_.push("Your name?\n", 0);
    } else {
        enter();
    }
    server_.schedule_flush(*this);
    update_interest();
}

// The room hears the arrival, and this client everything said after it, "You are NAME"
// (and the roster of the others) first. Alone the arrival applies at once; in a cluster
// (which has no roster) the greeting waits until the arrival comes back: a client greeted
// is a client in the room.
void Client::enter()
{
    const Config& config = server_.config();
    std::string roster = config.roster ? server_.room().roster(config.max_line_bytes) : std::string();
    state_ = State::arriving;
    server_.room().arrive(member_);
    greet_if_admitted(std::move(roster));
}

void Client::greet_if_admitted(std::string roster)
{
    if (state_ != State::arriving || !member_.in_room)
        return;
    out_.push("You are " + member_.name + "\n", 0);
    if (!roster.empty())
        out_.push(std::move(roster), 0);
    state_ = State::member;
    server_.log().write(LogLevel::debug, "%s arrived", member_.name.c_str());
    resume_input();
}

// A private line, after everything the room has said so far.
void Client::reply(std::string text)
{
    out_.push(std::move(text), member_.cursor.open ? server_.room().log().end() : 0);
    server_.schedule_flush(*this);
}

void Client::choose_name(std::string_view name)
{
    if (!is_valid_name(name)) {
        reply("error: invalid name\nYour name?\n");
    } else if (server_.room().has_member_named(name)) {
        reply("error: name taken\nYour name?\n");
    } else if (server_.names_across_nodes()) {
        claiming_ = true;  // input waits for the answer (named())
        server_.claim_name(*this, std::string(name));
        update_interest();
    } else {
        take_name(name);
    }
}

void Client::take_name(std::string_view name)
{
    server_.log().write(LogLevel::info, "%s is named %.*s", member_.name.c_str(), static_cast<int>(name.size()),
                        name.data());
    member_.name = name;
    enter();
}

void Client::named(const std::string& name, bool ok)
{
    claiming_ = false;
    if (state_ != State::naming) {  // it went meanwhile
        if (ok)
            server_.release_name(*this);
        return;
    }
    if (ok) {
        holds_name_ = true;
        take_name(name);
    } else {
        reply("error: name taken\nYour name?\n");
    }
    resume_input();
    update_interest();
}

// Input held back while the client could not take it (over a flood rate, a name being
// claimed, an arrival on its way) is framed once it can. Never from inside the framer:
// held_ is empty there.
void Client::resume_input()
{
    if (held_.empty() || throttled_ || claiming_ || !(state_ == State::naming || state_ == State::member))
        return;
    std::string input;
    input.swap(held_);
    frame_input(input.data(), input.size());
}

void Client::rename(std::string_view name)
{
    Broadcaster& room = server_.room();
    assert(!server_.names_across_nodes());  // the config refuses commands with [cluster]: no claim here
    if (!server_.config().names) {
        reply("error: /nick needs names ([room] names = true)\n");
    } else if (!is_valid_name(name)) {
        reply("error: invalid name\n");
    } else if (room.has_member_named(name)) {
        reply("error: name taken\n");
    } else {
        server_.log().write(LogLevel::info, "%s is now %.*s", member_.name.c_str(),
                            static_cast<int>(name.size()), name.data());
        room.rename(member_, name);
    }
}

// One line of input: a name while naming, a command, or something to say. Returns false
// if the client is no longer talking (it left).
bool Client::take_line(std::string_view line)
{
    server_.stats().lines_received++;
    Broadcaster& room = server_.room();
    if (state_ == State::naming) {
        choose_name(line);
        return !claiming_;
    }
    if (!server_.config().commands) {
        room.say(member_, line);
        return true;
    }
    Command c = parse_command(line);
    std::string word(c.arg);
    switch (c.kind) {
    case Command::Kind::say:
        room.say(member_, c.arg);
        break;
    case Command::Kind::who:
        reply(room.roster(server_.config().max_line_bytes));
        break;
    case Command::Kind::me:
        room.emote(member_, c.arg);
        break;
    case Command::Kind::nick:
        rename(c.arg);
        break;
    case Command::Kind::help:
        reply(command_help);
        break;
    case Command::Kind::quit:
        depart(LeaveReason::quit, "");
        return false;
    case Command::Kind::usage:
        reply("error: usage: " + word + (word == "/me" ? " ACTION\n" : " NAME\n"));
        break;
    case Command::Kind::unknown:
        reply("error: unknown command " + word + " (try /help)\n");
        break;
    }
    return true;
}

void Client::on_read(struct ev_loop*, ev_io* w, int)
{
    static_cast<Client*>(w->data)->read_input();
}

void Client::on_write(struct ev_loop*, ev_io* w, int)
{
    static_cast<Client*>(w->data)->flush();
}

void Client::on_throttle_over(struct ev_loop*, ev_timer* w, int)
{
    auto* self = static_cast<Client*>(w->data);
    self->throttled_ = false;
    if (!self->held_.empty()) {
        self->resume_input();
    } else {
        // Nothing held and nothing more sent: this run of flooding is over, and a burst
        // later on must not count as its continuation.
        char c;
        if (recv(self->fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) <= 0)
            self->flooding_since_ = 0;
    }
    self->update_interest();
}

void Client::on_timer(struct ev_loop*, ev_timer* w, int)
{
    auto* self = static_cast<Client*>(w->data);
    if (self->state_ == State::member)
        self->slow_consumer("over the soft limit for too long");
    else
        self->finish("drain timeout");
}

// One read per wakeup, into the loop's shared buffer: a flooding client gets one buffer
// per loop iteration like everyone else, and an idle one holds no read buffer at all.
void Client::read_input()
{
    const Config& config = server_.config();
    size_t want = Server::read_buffer_size;
    if (talking() && config.flood_bytes_per_second > 0) {
        // Flood control in bytes: read no more than the bucket holds.
        byte_tokens_.refill(config.flood_bytes_per_second, config.flood_bytes_burst,
                            ev_now(server_.loop()));
        want = static_cast<size_t>(std::clamp(byte_tokens_.tokens(), 1.0, static_cast<double>(want)));
    }
    char* buf = server_.read_buffer();
    ssize_t n = read(fd_, buf, want);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n > 0) {
        if (!talking()) {  // leaving: input is read only to be discarded
            finish_leaving();
            return;
        }
        server_.stats().bytes_in += static_cast<uint64_t>(n);
        if (config.flood_bytes_per_second > 0)
            byte_tokens_.take(static_cast<double>(n));
        frame_input(buf, static_cast<size_t>(n));
        return;
    }
    bool reset = n < 0;
    if (reset)
        server_.log().write(LogLevel::debug, "%s read: %s", member_.name.c_str(), strerror(errno));
    input_ended_ = true;
    if (talking()) {
        // As bufio.Scanner at EOF or error: an unfinished last line is still a line.
        framer_.finish([&](std::string_view line) { return take_line(line); });
        if (talking())
            depart(reset ? LeaveReason::reset : LeaveReason::eof, "");
        if (reset)
            finish("reset");
        return;
    }
    finish_leaving();
}

// Says each complete line of input. Under a line rate it stops when the bucket is empty
// and holds the rest of the input until the bucket refills.
void Client::frame_input(const char* data, size_t n)
{
    server_.touch_idle(idle_);
    const Config& config = server_.config();
    bool limited = config.flood_lines_per_second > 0;
    if (limited)
        line_tokens_.refill(config.flood_lines_per_second, config.flood_lines_burst,
                            ev_now(server_.loop()));
    size_t used = n;
    auto status = framer_.feed(
        data, n,
        [&](std::string_view line) {
            if (!take_line(line))
                return false;
            if (!limited)
                return true;
            line_tokens_.take(1);
            return line_tokens_.tokens() >= 1;
        },
        &used);
    if (!talking())
        return;
    if (status == LineFramer::Status::too_long) {
        size_t max = framer_.max_line();
        server_.log().write(LogLevel::warn, "%s disconnected: line too long (max %zu bytes)",
                            member_.name.c_str(), max);
        depart(LeaveReason::line_too_long, "error: line too long (max " + std::to_string(max) + " bytes)\n");
        return;
    }
    std::string rest(data + used, n - used);  // data may point into held_
    held_.swap(rest);
    if (claiming_ || state_ == State::arriving)
        return;  // the rest waits: resume_input()
    throttle_if_flooding();
}

// Flood control: input over a rate is not refused but paused until the bucket refills,
// so TCP holds the sender back; only a sender that never lets up may be disconnected.
void Client::throttle_if_flooding()
{
    const Config& config = server_.config();
    double wait = 0;
    if (config.flood_lines_per_second > 0)
        wait = line_tokens_.wait(1, config.flood_lines_per_second);
    if (config.flood_bytes_per_second > 0)
        wait = std::max(wait, byte_tokens_.wait(1, config.flood_bytes_per_second));
    if (wait <= 0 && held_.empty()) {
        flooding_since_ = 0;
        return;
    }
    double now = ev_now(server_.loop());
    if (flooding_since_ == 0) {
        flooding_since_ = now;
        server_.log().write(LogLevel::info, "%s throttled: over the flood limit", member_.name.c_str());
    } else if (config.flood_disconnect_after > 0 && now - flooding_since_ > config.flood_disconnect_after) {
        server_.log().write(LogLevel::warn, "%s disconnected: flooding for %.1f s",
                            member_.name.c_str(), now - flooding_since_);
        depart(LeaveReason::flood, "error: flood limit exceeded\n");
        return;
    }
    throttled_ = true;
    ev_timer_set(&throttle_timer_, std::max(wait, 0.001), 0.0);
    ev_timer_start(server_.loop(), &throttle_timer_);
    update_interest();
}

void Client::idle_timeout()
{
    server_.log().write(LogLevel::info, "%s disconnected: idle for %g s", member_.name.c_str(),
                        server_.config().idle_timeout);
    depart(LeaveReason::idle, "error: idle timeout\n");
}

void Client::reconfigure()
{
    framer_.set_max_line(server_.config().max_line_bytes);
    if (state_ == State::member && ev_is_active(&timer_)) {
        ev_timer_stop(server_.loop(), &timer_);  // the soft-limit clock restarts with the new time
        check_backlog();
    }
    update_interest();
}

// The room hears that this client left; the one place leaves are counted.
void Client::leave_room(LeaveReason reason)
{
    if (!server_.room().present(member_))
        return;
    give_back_name();
    server_.room().leave(member_);
    server_.stats().count_leave(reason);
    server_.log().write(LogLevel::debug, "%s left (%s)", member_.name.c_str(), leave_reason_name(reason));
}

void Client::depart(LeaveReason reason, std::string farewell)
{
    assert(talking());
    server_.forget_idle(idle_);
    ev_timer_stop(server_.loop(), &throttle_timer_);
    throttled_ = false;
    std::string().swap(held_);
    leave_room(reason);
    state_ = State::leaving;
    if (!farewell.empty())
        out_.push(std::move(farewell), member_.cursor.open ? member_.stop : 0);
    ev_timer_stop(server_.loop(), &timer_);
    ev_timer_set(&timer_, server_.config().drain_timeout, 0.0);
    ev_timer_start(server_.loop(), &timer_);
    server_.schedule_flush(*this);
    update_interest();
}

void Client::close_for_shutdown()
{
    if (state_ == State::leaving && pending() == 0) {
        finish("shutdown");  // its output is out; its input no longer matters
        return;
    }
    if (!talking())
        return;
    server_.forget_idle(idle_);
    give_back_name();  // goes out after the leave; the node exits once Redis has answered both
    if (server_.room().present(member_))
        server_.room().close(member_);
    state_ = State::leaving;
    ev_timer_stop(server_.loop(), &timer_);
    ev_timer_set(&timer_, server_.config().shutdown_grace, 0.0);
    ev_timer_start(server_.loop(), &timer_);
    server_.schedule_flush(*this);
    update_interest();
}

void Client::finish(const char* reason)
{
    if (state_ == State::finished)
        return;
    assert(!server_.room().present(member_));  // leave_room() first
    server_.forget_idle(idle_);
    if (reason[0] != '\0')
        server_.log().write(LogLevel::debug, "%s closed (%s)", member_.name.c_str(), reason);
    state_ = State::finished;
    update_interest();
    ev_timer_stop(server_.loop(), &timer_);
    server_.retire(*this);
}

void Client::slow_consumer(const char* why)
{
    assert(state_ == State::member);
    const Config& config = server_.config();
    uint64_t backlog = pending();
    if (config.slow_policy == SlowPolicy::disconnect) {
        server_.log().write(LogLevel::warn,
                            "%s disconnected: slow consumer, %s (backlog %llu bytes, soft limit %zu, "
                            "hard limit %zu)",
                            member_.name.c_str(), why, static_cast<unsigned long long>(backlog),
                            config.output_soft_limit, config.output_hard_limit);
        leave_room(LeaveReason::slow_consumer);
        finish("slow consumer");
        return;
    }
    RoomLog::Skipped skipped = out_.drop_backlog(server_.room().log(), member_);
    server_.stats().lines_dropped += skipped.lines;
    server_.log().write(LogLevel::warn, "%s slow consumer, %s: dropped %llu lines (%llu bytes)",
                        member_.name.c_str(), why, static_cast<unsigned long long>(skipped.lines),
                        static_cast<unsigned long long>(skipped.bytes));
    ev_timer_stop(server_.loop(), &timer_);
    update_interest();
}

// The output limits, checked whenever this member's backlog may have changed.
void Client::check_backlog()
{
    if (state_ != State::member)
        return;
    const Config& config = server_.config();
    uint64_t backlog = pending();
    if (backlog > config.output_hard_limit) {
        slow_consumer("over the hard limit");
    } else if (backlog > config.output_soft_limit) {
        if (!ev_is_active(&timer_)) {
            ev_timer_set(&timer_, config.output_soft_seconds, 0.0);
            ev_timer_start(server_.loop(), &timer_);
        }
    } else {
        ev_timer_stop(server_.loop(), &timer_);
    }
}

void Client::room_advanced()
{
    if (state_ == State::finished)
        return;
    greet_if_admitted();  // the room's log advances when an arrival is applied
    if (!write_blocked_) {
        flush();
        return;
    }
    check_backlog();
    update_interest();
}

void Client::flush()
{
    if (state_ == State::finished)
        return;
    RoomLog& log = server_.room().log();
    while (pending() > 0) {
        iovec iov[max_iov];
        size_t count = out_.fill(log, member_, iov, max_iov);
        size_t offered = 0;
        for (size_t i = 0; i < count; i++)
            offered += iov[i].iov_len;
        ssize_t n = writev(fd_, iov, static_cast<int>(count));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            write_blocked_ = true;
            break;
        }
        if (n < 0) {
            server_.log().write(LogLevel::debug, "%s write: %s", member_.name.c_str(), strerror(errno));
            leave_room(LeaveReason::write_error);
            finish("write error");
            return;
        }
        out_.consume(log, member_, static_cast<size_t>(n));
        server_.stats().bytes_out += static_cast<uint64_t>(n);
        write_blocked_ = static_cast<size_t>(n) < offered;
        if (write_blocked_)
            break;
    }
    if (pending() == 0)
        write_blocked_ = false;
    check_backlog();
    if (state_ == State::leaving)
        finish_leaving();
    update_interest();
}

uint64_t Client::pending() const
{
    return out_.pending(server_.room(), member_);
}

// A leaver is closed once its output is written and its input is over. Closing while
// input is unread would make the kernel send RST and throw away what is still in flight
// to the peer (the farewell error among it), so the write side is shut first and the
// input drained.
void Client::finish_leaving()
{
    assert(state_ == State::leaving);
    if (pending() > 0)
        return;
    if (!shut_write_) {
        ::shutdown(fd_, SHUT_WR);
        shut_write_ = true;
    }
    while (!input_ended_) {
        ssize_t n = read(fd_, server_.read_buffer(), Server::read_buffer_size);
        if (n > 0)
            return;  // more is coming: the read watcher brings us back
        if (n < 0 && errno == EINTR)
            continue;
        input_ended_ = true;  // EOF, error, or nothing waiting (EAGAIN): close is clean now
    }
    finish("");
}

// The one place that decides which watchers run, from the state and the buffers.
void Client::update_interest()
{
    struct ev_loop* loop = server_.loop();
    bool want_read = false;
    if (talking())
        want_read = !input_ended_ && !throttled_ && !claiming_ && pending() <= server_.config().output_soft_limit &&
                    (state_ == State::naming || member_.in_room) && server_.input_open();
    else if (state_ == State::leaving)
        want_read = !input_ended_;
    set_active(loop, &read_w_, want_read);
    set_active(loop, &write_w_, state_ != State::finished && write_blocked_);
}
