// Server: owner of everything on the loop — listeners, connections, the room — and of the
// flush pass that writes pending output once per loop iteration. Owned by main.
#pragma once

#include "access_policy.h"
#include "broadcaster.h"
#include "client.h"
#include "config.h"
#include "connection.h"
#include "idle_timer.h"
#include "log.h"
#include "name_registry.h"
#include "proxy_gate.h"
#include "refusal.h"
#include "session.h"
#include "slots.h"
#include "stats.h"
#include "tls_context.h"
#include "tls_gate.h"
#include "websocket.h"

#include <ev.h>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

class Admin;
class Cluster;
class Listener;
class WebListener;
struct sockaddr;

class Server final : private ClientOwner, private Clock {
public:
    Server(struct ev_loop* loop, const Config& config, Log& log);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds every listen address; on failure returns false with err and binds nothing.
    bool listen(std::string& err);
    // SIGHUP: takes a new, already validated config. New listen addresses are bound
    // before old ones close; if one cannot be bound, or next changes a key read only at
    // start, nothing changes and err says why. Limits apply to existing clients from now on.
    bool reconfigure(const Config& next, std::string& err);
    // SIGTERM: stop accepting and reading, flush what is queued for up to the grace
    // period, then break the loop. A second call breaks it at once.
    void shutdown();
    // The cluster took this node for dead: the loop was broken, and evchat exits 1.
    bool fenced() const { return fenced_; }
    Stats& stats() { return stats_; }

private:
    // ClientOwner, Clock
    void schedule_flush(Client& c) override;
    void retire(Client& c) override;
    bool input_open() const override;
    void input_over_budget() override;
    double now() const override { return ev_now(loop_); }
    ClientOwner& as_owner() { return *this; }

    static void on_prepare(struct ev_loop* loop, ev_prepare* w, int revents);
    static void on_grace_over(struct ev_loop* loop, ev_timer* w, int revents);
    static void on_summary_timer(struct ev_loop* loop, ev_timer* w, int revents);
    static void on_presence_timer(struct ev_loop* loop, ev_timer* w, int revents);
    std::unique_ptr<Cluster> make_cluster();
    bool bind_all(const Config& next, std::string& err);
    bool rebind(const Config& next, std::string& err);
    bool open_admin(const Config& next, std::unique_ptr<Admin>& fresh, std::string& err);
    void install_admin(const Config& next, std::unique_ptr<Admin> fresh);
    void accept_client(int fd, const sockaddr* peer);
    void accept_tls(int fd, const sockaddr* peer);
    void accept_client(Socket socket, std::string addr, std::string rest);
    void apply_access_to_connected();
    void accept_websocket(Socket socket, std::string addr, std::string rest, std::string response);
    bool load_tls(const Config& next, std::unique_ptr<TlsContext>& fresh, std::string& err);
    void install_tls(const Config& next, std::unique_ptr<TlsContext> fresh);
    // Lets a newcomer from addr in, or says why not (*denied, if given: the access lists
    // refuse it, and trying again will not help).
    const char* check_admission(const std::string& addr, bool* denied = nullptr);
    Slots<Client>& admit(const Socket& socket, Transport t);
    void flush_pass();
    void start_ring();
    void destroy_retired();
    void arm_summary_timer();
    void arm_presence_timer();
    void input_changed();
    std::string metrics_text();
    std::string unhealthy_reason() const;
    uint64_t open_exhaustions() const;
    void backlog_totals(uint64_t& total, uint64_t& largest) const;

    struct ev_loop* loop_;
    Config config_;
    Log& log_;
    Io io_;
    Stats stats_;
    FrameEncoder frames_;  // the WebSocket frames of the room's lines and of every client
    Broadcaster room_;
    LocalNames local_names_;
    std::unique_ptr<Cluster> cluster_;  // only with [cluster]
    IdleTimer idle_;
    SessionContext chat_;
    Slots<Client> clients_;  // every chat connection, in the room or leaving
    std::unordered_map<std::string, size_t> clients_per_host_;
    std::vector<Client*> due_;      // to flush in this pass even if the room said nothing
    std::vector<Client*> retired_;  // closed: destroyed at the end of the pass
    Refusals refusals_;
    LogThrottle refusals_logged_;
    AccessPolicy access_;
    ProxyGate proxies_;  // chat connections from trusted proxies, until their header
    std::unique_ptr<TlsContext> tls_;  // while [tls] has a certificate
    ProxyGate tls_proxies_;            // the same on the TLS listeners, before the handshake
    TlsGate tls_gate_;                 // TLS chat connections, until their handshake is done
    LogThrottle input_trims_logged_;
    std::vector<std::unique_ptr<Listener>> listeners_;
    std::vector<std::unique_ptr<Listener>> tls_listeners_;  // [tls] listen
    std::vector<std::unique_ptr<WebListener>> web_;  // [websocket] listen
    uint64_t closed_exhaustions_ = 0;  // of listeners closed since start: counters never go back
    std::unique_ptr<Admin> admin_;     // only with [admin] listen
    uint64_t flushed_changes_ = 0;     // Broadcaster::changes() at the last flush pass
    bool closing_ = false;
    bool fenced_ = false;
    bool input_was_open_ = false;  // in a cluster: whether input_open() was, when last asked
    ev_timer summary_timer_;
    uint64_t summary_lines_ = 0;  // room counters at the last summary line
    uint64_t summary_deliveries_ = 0;
    ev_timer presence_timer_;             // [room] presence = "summary": the next summary line
    double presence_said_ = -1e9;         // when the last one was said (long ago: none yet)
    ev_prepare prepare_;
    ev_timer grace_;
};
