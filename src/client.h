// Client: a chat connection — a session spoken as lines over TCP or TLS, or as WebSocket
// messages, with the output limits that keep a slow reader from costing the others. Owned by the
// server, which alone destroys it, after it closes (ClientOwner::retire).
#pragma once

#include "address.h"
#include "connection.h"
#include "session.h"
#include "stats.h"
#include "websocket.h"

#include <cstdint>
#include <ev.h>
#include <memory>
#include <string>

class Client;
template <class T>
class Slots;

// The server's side of its clients.
class ClientOwner {
public:
    // c has output the next flush pass must write even if the room said nothing.
    virtual void schedule_flush(Client& c) = 0;
    // c is closed: destroyed after the current callback, never inside it.
    virtual void retire(Client& c) = 0;
    // Whether clients' input may be read at all: in a cluster, only while Redis can take it.
    virtual bool input_open() const = 0;
    // The unfinished lines of all clients together hold more than [server] max_input_memory.
    virtual void input_over_budget() = 0;

protected:
    ~ClientOwner() = default;
};

class Client final : public Connection, private SessionHost, private WebSocketCodec::Sink {
public:
    // A client over TCP or TLS: lines as they are.
    Client(Io& io, SessionContext& chat, ClientOwner& owner, Socket socket, std::string addr);
    // A WebSocket client whose handshake is done: frames, made by frames; response (the
    // 101) goes out first.
    Client(Io& io, SessionContext& chat, ClientOwner& owner, Socket socket, std::string addr, FrameEncoder& frames,
           std::string response);
    ~Client() override;

    // Greets the client and enters the room (or asks for a name); input is what arrived
    // with the handshake (bytes after a WebSocket request), if anything.
    void start(std::string_view input = {});
    // The flush pass: the room has said something since the last pass.
    void room_advanced();
    // The server is closing: the client hears nothing more, receives what is queued, and
    // is closed.
    void shutdown();
    bool websocket() const { return ws_ != nullptr; }
    Transport transport() const;
    // The server's config changed (SIGHUP): limits apply from now on.
    void reconfigure();
    // The server puts it out (see Session::put_out); outside its own callbacks.
    void put_out(LeaveReason reason, std::string farewell) { session_.put_out(reason, std::move(farewell)); }
    // Bytes of input it holds unfinished.
    size_t input_held() const { return session_.input_held(); }
    // Something outside the client changed whether it may be read (the cluster link).
    void refresh() { update_interest(); }

    const std::string& name() const { return session_.name(); }
    // Bytes owed to this client (its output backlog).
    uint64_t backlog() const { return owed(); }
    // The peer's address without its port: what the per-address limit counts.
    std::string host() const { return host_of(peer()); }

private:
    friend class Slots<Client>;
    friend class Server;  // its flush list (due_)

    static void on_pause_over(struct ev_loop* loop, ev_timer* w, int revents);

    // Connection
    size_t read_size() override;
    bool wants_input() const override;
    void received(const char* data, size_t n) override;
    void input_ended(bool reset) override;
    void timed_out() override;
    void written(size_t n) override;
    void flushed() override;
    void write_failed() override;
    void closed_now() override;
    // SessionHost
    void send(std::string text) override;
    void greet(std::string text) override;
    void pause_input(double seconds) override;
    bool input_waiting() const override { return Connection::input_waiting(); }
    void input_changed() override { update_interest(); }
    void leaving(LeaveReason reason) override;
    // WebSocketCodec::Sink
    void message(std::string_view text) override;
    void reply(std::string frames) override;
    void ended(CloseCode sent, bool by_peer) override;

    std::string in_form(std::string text) const;
    void check_backlog();
    void slow_consumer(const char* why);
    void say_close(CloseCode code);

    SessionContext& chat_;
    ClientOwner& owner_;
    Session session_;
    std::unique_ptr<WebSocketCodec> ws_;  // WebSocket only
    ev_timer pause_;                      // flood control: input waits for it
    size_t slot_ = 0;
    bool due_ = false;
};
