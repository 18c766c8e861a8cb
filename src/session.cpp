// Session: names, commands, flood control and the leave rules of one participant.
#include "session.h"

#include "commands.h"

#include <cassert>

Session::Session(SessionContext& ctx, SessionHost& host, RoomLog::Reader& reader, std::string addr)
    : ctx_(ctx), host_(host), member_(std::move(addr), reader), framer_(ctx.config.client.max_line_bytes),
      flood_(ctx.config.flood)
{
}

Session::~Session()
{
    ctx_.stats.input_held -= input_accounted_;
    ctx_.idle.remove(*this);
    if (claiming_)
        ctx_.names.cancel(claim_);
    give_back_name();
    ctx_.room.release(member_);
}

void Session::start()
{
    ctx_.idle.touch(*this);
    if (ctx_.config.room.names) {
        state_ = State::naming;
        host_.send("Your name?\n");
    } else {
        enter();
    }
}

bool Session::takes_input() const
{
    return (state_ == State::naming || (talking() && member_.in_room)) && !claiming_ && !flood_.paused();
}

size_t Session::read_allowance(size_t max)
{
    return talking() ? flood_.read_allowance(ctx_.clock.now(), max) : max;
}

// The room hears the arrival, and the participant everything said after it, "You are
// NAME" (and the roster of the others) first. Alone the arrival applies at once; in a
// cluster the greeting waits until the arrival comes back: a participant greeted is one
// in the room.
void Session::enter()
{
    state_ = State::arriving;
    ctx_.room.arrive(member_);
    greet_if_admitted();
}

void Session::greet_if_admitted()
{
    if (state_ != State::arriving || !member_.in_room)
        return;
    // The roster and the history lent at the admission follow the greeting
    // (SessionHost::greet).
    std::string history = member_.history ? "History (" + std::to_string(*member_.history) + "):\n" : "";
    host_.greet("You are " + member_.name + "\n" + member_.roster + history);
    std::string().swap(member_.roster);
    state_ = State::member;
    ctx_.log.write(LogLevel::debug, "%s arrived", member_.name.c_str());
    resume_input();
}

void Session::room_advanced()
{
    greet_if_admitted();
}

void Session::ask_name(std::string_view name)
{
    claiming_ = true;
    uint64_t id = ctx_.names.claim(*this, std::string(name));
    if (claiming_) {  // the answer comes later: input waits for it
        claim_ = id;
        host_.input_changed();
    }
}

void Session::named(uint64_t claim, const std::string& name, bool ok)
{
    claiming_ = false;
    claim_ = 0;
    if (!talking()) {  // it went meanwhile
        if (ok)
            ctx_.names.release(claim);
        return;
    }
    if (state_ == State::naming) {
        if (ok) {
            name_held_ = claim;
            take_name(name);
        } else {
            host_.send("error: name taken\nYour name?\n");
        }
    } else if (ok) {
        ctx_.log.write(LogLevel::info, "%s is now %s", member_.name.c_str(), name.c_str());
        ctx_.room.rename(member_, name);
        give_back_name();  // the old one, after the rename is in the order
        name_held_ = claim;
    } else {
        host_.send("error: name taken\n");
    }
    resume_input();
    host_.input_changed();
}

void Session::take_name(const std::string& name)
{
    ctx_.log.write(LogLevel::info, "%s is named %s", member_.name.c_str(), name.c_str());
    member_.name = name;
    enter();
}

void Session::rename(std::string_view name)
{
    if (!ctx_.config.room.names)
        host_.send("error: /nick needs names ([room] names = true)\n");
    else if (!is_valid_name(name))
        host_.send("error: invalid name\n");
    else
        ask_name(name);
}

// Once the room has heard the holder leave (or rename), the name is free for others.
void Session::give_back_name()
{
    if (name_held_ == 0)
        return;
    ctx_.names.release(name_held_);
    name_held_ = 0;
}

// One line of input: a name while naming, a command, or something to say. Returns false
// once the line leaves the session unable to take the next one now (it left, or a name's
// answer is awaited).
bool Session::take_line(std::string_view line)
{
    ctx_.stats.lines_received++;
    if (state_ == State::naming) {
        if (is_valid_name(line))
            ask_name(line);
        else
            host_.send("error: invalid name\nYour name?\n");
    } else if (!ctx_.config.room.commands) {
        ctx_.room.say(member_, line);
    } else {
        command(line);
    }
    return talking() && !claiming_;
}

void Session::command(std::string_view line)
{
    Command c = parse_command(line);
    std::string word(c.arg);
    switch (c.kind) {
    case Command::Kind::say:
        ctx_.room.say(member_, c.arg);
        break;
    case Command::Kind::who:
        host_.send(ctx_.room.roster(ctx_.config.client.max_line_bytes));
        break;
    case Command::Kind::me:
        ctx_.room.emote(member_, c.arg);
        break;
    case Command::Kind::nick:
        rename(c.arg);
        break;
    case Command::Kind::help:
        host_.send(command_help);
        break;
    case Command::Kind::quit:
        depart(LeaveReason::quit, "");
        break;
    case Command::Kind::usage:
        host_.send("error: usage: " + word + (word == "/me" ? " ACTION\n" : " NAME\n"));
        break;
    case Command::Kind::unknown:
        host_.send("error: unknown command " + word + " (try /help)\n");
        break;
    }
}

void Session::input(const char* data, size_t n)
{
    assert(talking());
    flood_.bytes_read(n);
    if (!held_.empty() || !takes_input())
        held_.append(data, n);
    else
        frame(data, n);
    account_input();
}

// Unfinished input is what an attacker can make every client hold; all of it together is
// bounded ([server] max_input_memory), so each session keeps its share counted.
void Session::account_input()
{
    size_t now = framer_.held_bytes() + (held_.capacity() > std::string().capacity() ? held_.capacity() : 0);
    ctx_.stats.input_held += now - input_accounted_;  // modulo 2^64: a decrease is right too
    input_accounted_ = now;
}

// Says each complete line. Under a line rate it stops when the bucket is empty and holds
// the rest of the input until the bucket refills.
void Session::frame(const char* data, size_t n)
{
    ctx_.idle.touch(*this);
    flood_.lines_begin(ctx_.clock.now());
    size_t used = n;
    auto status = framer_.feed(
        data, n, [&](std::string_view line) { return take_line(line) && flood_.line_taken(); }, &used);
    if (!talking())
        return;
    if (status == LineFramer::Status::too_long) {
        size_t max = framer_.max_line();
        ctx_.log.write(LogLevel::warn, "%s disconnected: line too long (max %zu bytes)", member_.name.c_str(), max);
        depart(LeaveReason::line_too_long, "error: line too long (max " + std::to_string(max) + " bytes)\n");
        return;
    }
    std::string rest(data + used, n - used);  // data may point into held_
    held_.swap(rest);
    if (claiming_ || state_ == State::arriving)
        return;  // the rest waits: resume_input()
    throttle_if_flooding();
}

// Input held back while the session could not take it (over a flood rate, a name being
// claimed, an arrival on its way) is framed once it can. Never from inside the framer:
// held_ is empty there.
void Session::resume_input()
{
    if (held_.empty() || !takes_input())
        return;
    std::string input;
    input.swap(held_);
    frame(input.data(), input.size());
    account_input();
}

void Session::throttle_if_flooding()
{
    FloodControl::Verdict v = flood_.check(ctx_.clock.now(), !held_.empty());
    switch (v.action) {
    case FloodControl::Verdict::Action::go_on:
        return;
    case FloodControl::Verdict::Action::disconnect:
        ctx_.log.write(LogLevel::warn, "%s disconnected: flooding for %.1f s", member_.name.c_str(), v.flooding_for);
        depart(LeaveReason::flood, "error: flood limit exceeded\n");
        return;
    case FloodControl::Verdict::Action::pause:
        if (v.run_began)
            ctx_.log.write(LogLevel::info, "%s throttled: over the flood limit", member_.name.c_str());
        host_.pause_input(v.wait);
        host_.input_changed();
        return;
    }
}

void Session::pause_over()
{
    if (!talking())
        return;
    flood_.pause_over(!held_.empty() || host_.input_waiting());
    resume_input();
    host_.input_changed();
}

void Session::input_ended(LeaveReason reason)
{
    if (!talking())
        return;
    framer_.finish([&](std::string_view line) { return take_line(line); });
    if (talking())
        depart(reason, "");
    account_input();
}

void Session::idle_timeout()
{
    ctx_.log.write(LogLevel::info, "%s disconnected: idle for %g s", member_.name.c_str(),
                   ctx_.config.client.idle_timeout);
    depart(LeaveReason::idle, "error: idle timeout\n");
}

// The room hears that the participant left; the one place leaves are counted.
void Session::leave_room(LeaveReason reason)
{
    if (!ctx_.room.present(member_))
        return;
    give_back_name();
    ctx_.room.leave(member_);
    ctx_.stats.count_leave(reason);
    ctx_.log.write(LogLevel::debug, "%s left (%s)", member_.name.c_str(), leave_reason_name(reason));
}

void Session::depart(LeaveReason reason, std::string farewell)
{
    assert(talking());
    ctx_.idle.remove(*this);
    std::string().swap(held_);
    account_input();
    leave_room(reason);
    state_ = State::left;
    if (!farewell.empty())
        host_.send(std::move(farewell));
    host_.leaving(reason);
}

// Never from inside the framer (the server calls it): the unfinished line can go at once.
void Session::put_out(LeaveReason reason, std::string farewell)
{
    framer_.discard();
    if (talking())
        depart(reason, std::move(farewell));
    account_input();
}

void Session::lost(LeaveReason reason)
{
    if (!talking())
        return;
    ctx_.idle.remove(*this);
    leave_room(reason);
    state_ = State::left;
}

void Session::shutdown()
{
    if (!talking())
        return;
    ctx_.idle.remove(*this);
    give_back_name();  // goes out after the leave; a node exits once Redis has answered both
    if (ctx_.room.present(member_))
        ctx_.room.close(member_);
    state_ = State::left;
}

void Session::reconfigure()
{
    framer_.set_max_line(ctx_.config.client.max_line_bytes);
}
