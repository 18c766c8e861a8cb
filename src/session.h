// Session: one participant's side of the chat — what it says and hears: its name, its
// commands and their replies, flood control, and when and why it leaves. Pure: no socket
// and no timer; it talks to the room, the name registry and its transport. Owned by its
// connection.
#pragma once

#include "broadcaster.h"
#include "config.h"
#include "flood_control.h"
#include "framer.h"
#include "idle_timer.h"
#include "log.h"
#include "name_registry.h"
#include "stats.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

// The time in seconds, as the loop sees it; tests keep their own.
class Clock {
public:
    virtual double now() const = 0;

protected:
    ~Clock() = default;
};

// What every session shares; lent by the server, which owns all of it.
struct SessionContext {
    Broadcaster& room;
    NameRegistry& names;
    IdleTimer& idle;
    const Config& config;
    Stats& stats;
    Log& log;
    const Clock& clock;
};

// What a session needs of the transport it speaks through (lines over TCP, WebSocket
// messages, either over TLS). Text is whole lines, each ending in '\n'; the transport
// puts it in its own form.
class SessionHost {
public:
    // Text for this participant alone, after everything the room has said to it so far.
    virtual void send(std::string text) = 0;
    // Its greeting: before anything the room says to it; then the history the room lent
    // its reader at the admission (RoomLog::Reader::greet).
    virtual void greet(std::string text) = 0;
    // Input stays paused for `seconds` (flood control); then Session::pause_over().
    virtual void pause_input(double seconds) = 0;
    // Whether input not yet read waits on the connection.
    virtual bool input_waiting() const = 0;
    // Session::takes_input() may have changed.
    virtual void input_changed() = 0;
    // The session left, for reason: deliver what it is owed (a farewell last), then close.
    virtual void leaving(LeaveReason reason) = 0;

protected:
    ~SessionHost() = default;
};

//   naming --(a free name)--> arriving                  ([room] names; otherwise it starts arriving)
//   arriving --(its arrival applied: at once alone, when it comes back in a cluster)--> member
//   naming, arriving, member --(end of input, a limit, /quit, the server's shutdown)--> left
class Session final : private IdleTimer::Entry, private NameRegistry::Claimant {
public:
    // addr names the participant until it picks a name.
    Session(SessionContext& ctx, SessionHost& host, RoomLog::Reader& reader, std::string addr);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Greets the participant and enters the room, whose members hear the arrival; with
    // [room] names, first asks for a name.
    void start();
    // Whether its input may be read now: it is in the room (or naming), not paused by
    // flood control, not waiting for a name's answer.
    bool takes_input() const;
    // How many bytes to read now at most (flood control in bytes).
    size_t read_allowance(size_t max);
    // Bytes the participant sent, in order: a TCP stream's, or WebSocket messages each
    // followed by '\n'. Each complete line is said, named or obeyed; what comes while
    // the session cannot take it (takes_input() false) waits, in order.
    void input(const char* data, size_t n);
    // Its input ended, for reason (eof, reset, or a transport's protocol_error or
    // line_too_long): a last unfinished line is still a line (bufio.Scanner at EOF), then
    // it leaves.
    void input_ended(LeaveReason reason);
    // The flood-control pause asked through SessionHost::pause_input() is over.
    void pause_over();
    // The room said something: a newcomer admitted meanwhile is greeted.
    void room_advanced();
    // Its transport lost it (too slow, a failed write): out of the room now, no farewell.
    void lost(LeaveReason reason);
    // The server puts it out (a limit across clients, the access lists): farewell is its
    // last line, and the room hears it leave.
    void put_out(LeaveReason reason, std::string farewell);
    // The server is closing: it hears nothing more; in a cluster the others hear it leave.
    void shutdown();
    // The server's config changed (SIGHUP): limits apply from now on.
    void reconfigure();

    const std::string& name() const { return member_.name; }
    bool talking() const { return state_ != State::left; }
    bool member() const { return state_ == State::member; }
    // Bytes of input it holds unfinished (in Stats::input_held with every session's).
    size_t input_held() const { return input_accounted_; }

private:
    enum class State { naming, arriving, member, left };

    void idle_timeout() override;
    void named(uint64_t claim, const std::string& name, bool ok) override;

    void enter();
    void greet_if_admitted();
    void ask_name(std::string_view name);
    void take_name(const std::string& name);
    void rename(std::string_view name);
    void give_back_name();
    bool take_line(std::string_view line);
    void command(std::string_view line);
    void frame(const char* data, size_t n);
    void resume_input();
    void throttle_if_flooding();
    void leave_room(LeaveReason reason);
    void depart(LeaveReason reason, std::string farewell);
    void account_input();

    SessionContext& ctx_;
    SessionHost& host_;
    State state_ = State::arriving;
    Member member_;
    LineFramer framer_;
    FloodControl flood_;
    std::string held_;        // input framed no further while the session cannot take it
    bool claiming_ = false;   // a name asked of the registry, unanswered: input waits
    uint64_t claim_ = 0;      // that claim's id
    uint64_t name_held_ = 0;  // the claim under which it holds its name, 0 for none
    size_t input_accounted_ = 0;  // its share of Stats::input_held
};
