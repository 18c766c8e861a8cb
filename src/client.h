// Client: one chat connection — its socket, watchers, line framer, private output, and its
// member record in the room. Owned by the server, which alone destroys it (after retire).
#pragma once

#include "broadcaster.h"
#include "framer.h"
#include "idle_list.h"
#include "output_queue.h"
#include "stats.h"
#include "token_bucket.h"

#include <cstdint>
#include <ev.h>
#include <string>

class Server;

class Client {
public:
    // addr names the client in the room; host (addr without the port) is what the
    // per-address connection limit counts.
    Client(Server& server, int fd, std::string addr, std::string host);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Greets the client and enters the room, whose members hear the arrival; with
    // [room] names, first asks for a name.
    void join();
    // The flush pass: the room has said something since the last pass.
    void room_advanced();
    // Writes as much pending output as the socket takes now.
    void flush();
    // The server is closing: hear nothing more, receive what is queued, then close.
    void close_for_shutdown();
    // Sent nothing for idle_timeout: told so, and leaves.
    void idle_timeout();
    // The server's config changed (SIGHUP): limits apply from now on.
    void reconfigure();
    // Something outside this client changed whether it may be read (the cluster link).
    void refresh() { update_interest(); }
    // The answer to its claim of name across the nodes (Server::claim_name).
    void named(const std::string& name, bool ok);

    const std::string& name() const { return member_.name; }
    // Bytes owed to this client (its output backlog).
    uint64_t backlog() const { return pending(); }
    const std::string& host() const { return host_; }
    bool finished() const { return state_ == State::finished; }

    // The server's bookkeeping: where this client sits in its lists.
    size_t slot = 0;
    bool scheduled = false;
    uint64_t claim = 0;  // its latest claim of a name across the nodes (Server::claim_name)

private:
    //   naming --(a free name)--> arriving         ([room] names; otherwise a client starts arriving)
    //   arriving --(its arrival applied: at once alone, when it comes back in a cluster)--> member
    //   naming, arriving, member --(end of input, error sent, /quit)--> leaving --(output written, input over)--> finished
    //   naming, arriving, member --(peer gone, slow consumer)---------------------------------------------> finished
    enum class State { naming, arriving, member, leaving, finished };
    bool talking() const { return state_ == State::naming || state_ == State::arriving || state_ == State::member; }

    static void on_read(struct ev_loop* loop, ev_io* w, int revents);
    static void on_write(struct ev_loop* loop, ev_io* w, int revents);
    static void on_timer(struct ev_loop* loop, ev_timer* w, int revents);
    static void on_throttle_over(struct ev_loop* loop, ev_timer* w, int revents);

    void enter();
    void greet_if_admitted(std::string roster = {});
    void reply(std::string text);
    void choose_name(std::string_view name);
    void take_name(std::string_view name);
    void give_back_name();
    void resume_input();
    void rename(std::string_view name);
    bool take_line(std::string_view line);
    void read_input();
    void frame_input(const char* data, size_t n);
    void throttle_if_flooding();
    void leave_room(LeaveReason reason);
    void depart(LeaveReason reason, std::string farewell);
    void finish(const char* reason);
    void slow_consumer(const char* why);
    void check_backlog();
    void finish_leaving();
    uint64_t pending() const;
    void update_interest();

    Server& server_;
    int fd_;
    State state_ = State::arriving;
    bool input_ended_ = false;
    bool write_blocked_ = false;  // the socket took less than offered: wait for EV_WRITE
    bool shut_write_ = false;
    bool throttled_ = false;      // over a flood-control rate: input waits for the timer
    bool claiming_ = false;       // its name is being claimed across the nodes: input waits
    bool holds_name_ = false;     // a name claimed across the nodes, to give back
    double flooding_since_ = 0;   // start of the current run of throttling, or 0
    std::string host_;
    Member member_;
    LineFramer framer_;
    OutputQueue out_;
    std::string held_;  // input framed no further while the client cannot take it (resume_input)
    ev_io read_w_;
    ev_io write_w_;
    ev_timer timer_;  // member: time over the soft limit; leaving: the drain deadline (or shutdown grace)
    ev_timer throttle_timer_;
    TokenBucket line_tokens_;
    TokenBucket byte_tokens_;
    IdleEntry idle_;
};
