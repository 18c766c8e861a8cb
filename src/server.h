// Server: owner of everything on the loop — listeners, clients, the room — and of the
// flush pass that writes pending output once per loop iteration. Owned by main.
#pragma once

#include "admin.h"
#include "broadcaster.h"
#include "cluster.h"
#include "config.h"
#include "idle_list.h"
#include "listener.h"
#include "log.h"
#include "stats.h"

#include <ev.h>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

class Client;

class Server {
public:
    Server(struct ev_loop* loop, const Config& config, Log& log);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds every listen address; on failure returns false with err and binds nothing.
    bool listen(std::string& err);
    // SIGHUP: takes a new, already validated config. New listen addresses are bound
    // before old ones close; if one cannot be bound, nothing changes and err says why.
    // Limits apply to existing clients from now on.
    bool reconfigure(const Config& next, std::string& err);
    // SIGTERM: stop accepting and reading, flush what is queued for up to the grace
    // period, then break the loop. A second call breaks it at once.
    void shutdown();
    bool fenced() const { return fenced_; }

    // For clients.
    struct ev_loop* loop() const { return loop_; }
    const Config& config() const { return config_; }
    Log& log() { return log_; }
    Broadcaster& room() { return room_; }
    // Whether clients' input may be read: in a cluster, only while Redis is reachable.
    bool input_open() const { return !cluster_ || cluster_->readable(); }
    Stats& stats() { return stats_; }
    char* read_buffer() { return read_buffer_.get(); }
    static constexpr size_t read_buffer_size = 64 * 1024;
    // c has output that the next flush pass must write even if the room said nothing.
    void schedule_flush(Client& c);
    // c is finished: it is destroyed after the current callback, never inside it.
    void retire(Client& c);
    // In a cluster, names are claimed across the nodes: c hears the answer in
    // Client::named(). Alone, the room's own members are all there is to ask.
    bool names_across_nodes() const { return cluster_ != nullptr; }
    // Each claim has an id of its own (Client::claim), which also gives its name back.
    void claim_name(Client& c, const std::string& name);
    void cancel_claim(Client& c);
    void release_name(const Client& c);
    // The idle timeout: e's input arrived now; e no longer counts (it left).
    void touch_idle(IdleEntry& e);
    void forget_idle(IdleEntry& e);

private:
    static void on_prepare(struct ev_loop* loop, ev_prepare* w, int revents);
    static void on_grace_over(struct ev_loop* loop, ev_timer* w, int revents);
    static void on_idle_timer(struct ev_loop* loop, ev_timer* w, int revents);
    static void on_summary_timer(struct ev_loop* loop, ev_timer* w, int revents);
    bool bind_all(const Config& next, std::string& err);
    bool rebind(const Config& next, std::string& err);
    void accept_client(int fd, const sockaddr* peer);
    bool check_admission(int fd, const std::string& addr, const std::string& host);
    void flush_pass();
    void destroy_retired();
    void arm_idle_timer();
    void arm_summary_timer();
    void input_changed();
    void name_claimed(uint64_t id, const std::string& name, bool ok);
    bool open_admin(const Config& next, std::unique_ptr<Admin>& fresh, std::string& err);
    void install_admin(const Config& next, std::unique_ptr<Admin> fresh);
    std::string metrics_text();
    std::string unhealthy_reason() const;
    void backlog_totals(uint64_t& total, uint64_t& largest) const;

    struct ev_loop* loop_;
    Config config_;
    Log& log_;
    Broadcaster room_;
    Stats stats_;
    std::unique_ptr<Cluster> cluster_;  // only with [cluster]
    std::vector<std::unique_ptr<Listener>> listeners_;
    uint64_t closed_exhaustions_ = 0;  // of listeners closed since start: counters never go back
    std::unique_ptr<Admin> admin_;     // only with [admin] listen
    std::vector<std::unique_ptr<Client>> clients_;  // every connection, in the room or leaving
    std::unordered_map<std::string, size_t> clients_per_host_;
    std::vector<Client*> scheduled_;
    std::unordered_map<uint64_t, Client*> claims_;  // names asked of the cluster, unanswered, by claim id
    uint64_t next_claim_ = 1;
    std::vector<Client*> retired_;
    std::unique_ptr<char[]> read_buffer_;  // one for the whole loop: reads never overlap
    uint64_t flushed_end_ = 0;             // log end at the last flush pass
    bool closing_ = false;
    bool fenced_ = false;  // the cluster took this node for dead: it exits, with status 1
    bool input_was_open_ = false;  // in a cluster: whether input_open() was, when last asked
    IdleList idle_;
    ev_timer idle_timer_;
    ev_timer summary_timer_;
    uint64_t summary_lines_ = 0;       // room counters at the last summary line
    uint64_t summary_deliveries_ = 0;
    ev_prepare prepare_;
    ev_timer grace_;
    LogThrottle refusals_;
};
