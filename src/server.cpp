// Server: accepting clients, admission, the idle sweep, the flush pass, reload and
// shutdown.
#include "server.h"

#include "client.h"
#include "metrics.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

Server::Server(struct ev_loop* loop, const Config& config, Log& log)
    : loop_(loop), config_(config), log_(log), read_buffer_(new char[read_buffer_size])
{
    // Flushing just before the loop sleeps batches every line said in this iteration
    // into one writev per client.
    ev_prepare_init(&prepare_, on_prepare);
    prepare_.data = this;
    ev_prepare_start(loop_, &prepare_);
    ev_init(&grace_, on_grace_over);
    grace_.data = this;
    ev_init(&idle_timer_, on_idle_timer);
    idle_timer_.data = this;
    ev_init(&summary_timer_, on_summary_timer);
    summary_timer_.data = this;
    arm_summary_timer();
    if (!config_.cluster_redis.empty()) {
        cluster_ = std::make_unique<Cluster>(
            loop_,
            Cluster::Settings{config_.cluster_redis, config_.cluster_stream, config_.cluster_maxlen,
                              config_.cluster_node, config_.cluster_timeout, config_.cluster_lease},
            log_, room_, [this] { input_changed(); },
            [this](uint64_t id, const std::string& name, bool ok) { name_claimed(id, name, ok); },
            [this] {
                fenced_ = true;
                ev_break(loop_, EVBREAK_ALL);
            });
        room_.set_relay(cluster_.get());
        cluster_->start();
    }
}

// Reading every client's input stops while the cluster cannot take it (its link is down,
// or too much waits for Redis), and starts again when it can; the cluster logs why.
void Server::input_changed()
{
    bool open = input_open();
    // Clients could not be heard meanwhile: that time is not theirs to be idle in (the
    // idle timer does not fire while input is closed, see on_idle_timer).
    if (open && !input_was_open_) {
        idle_.restart(ev_now(loop_));
        arm_idle_timer();
    }
    input_was_open_ = open;
    for (auto& c : clients_)
        c->refresh();
}

Server::~Server()
{
    admin_.reset();
    ev_prepare_stop(loop_, &prepare_);
    ev_timer_stop(loop_, &grace_);
    ev_timer_stop(loop_, &idle_timer_);
    ev_timer_stop(loop_, &summary_timer_);
    listeners_.clear();
    clients_.clear();
    room_.set_relay(nullptr);
    cluster_.reset();
}

// Binds next's addresses that are not bound yet, first; only once all of them are bound
// do the listeners that next no longer names close. On failure nothing changes.
bool Server::rebind(const Config& next, std::string& err)
{
    auto bound = [this](const std::string& text) {
        return std::any_of(listeners_.begin(), listeners_.end(),
                           [&](const auto& l) { return l->configured() == text; });
    };
    std::vector<std::unique_ptr<Listener>> fresh;
    for (const std::string& text : next.listen) {
        if (bound(text))
            continue;
        ListenAddress where;
        if (!parse_listen_address(text, where, err))
            return false;
        auto listener = std::make_unique<Listener>(
            loop_, log_, [this](int fd, const sockaddr* peer) { accept_client(fd, peer); });
        if (!listener->open(text, where, next.backlog, next.reuse_port, err))
            return false;
        fresh.push_back(std::move(listener));
    }
    // Said only once every new address is bound: scripts learn ports from these lines.
    for (auto& l : fresh)
        log_.write(LogLevel::info, "listening on %s", l->address().c_str());
    for (auto& l : listeners_) {
        if (std::find(next.listen.begin(), next.listen.end(), l->configured()) == next.listen.end()) {
            log_.write(LogLevel::info, "no longer listening on %s", l->address().c_str());
            closed_exhaustions_ += l->exhaustions();
            continue;
        }
        l->set_backlog(next.backlog);
        fresh.push_back(std::move(l));
    }
    listeners_ = std::move(fresh);
    return true;
}

bool Server::listen(std::string& err)
{
    return bind_all(config_, err);
}

// The chat and admin listeners that next asks for: all of them, or no change at all.
bool Server::bind_all(const Config& next, std::string& err)
{
    std::unique_ptr<Admin> admin;
    if (!open_admin(next, admin, err) || !rebind(next, err))
        return false;
    install_admin(next, std::move(admin));
    return true;
}

// Opens next's admin listener into fresh if next moves it; before anything else changes,
// so that a failure changes nothing.
bool Server::open_admin(const Config& next, std::unique_ptr<Admin>& fresh, std::string& err)
{
    if (next.admin_listen.empty() || (admin_ && admin_->configured() == next.admin_listen))
        return true;
    ListenAddress where;
    if (!parse_listen_address(next.admin_listen, where, err))
        return false;
    fresh = std::make_unique<Admin>(
        loop_, log_, Admin::Source{[this] { return metrics_text(); }, [this] { return unhealthy_reason(); }});
    return fresh->open(next.admin_listen, where, err);
}

// Logged after the chat listeners, so that the first "listening on" lines are always the
// chat addresses, as scripts and the tests expect.
void Server::install_admin(const Config& next, std::unique_ptr<Admin> fresh)
{
    if (admin_ && (fresh || next.admin_listen.empty())) {
        log_.write(LogLevel::info, "admin listener on %s closed", admin_->address().c_str());
        admin_.reset();
    }
    if (fresh) {
        admin_ = std::move(fresh);
        log_.write(LogLevel::info, "admin listening on %s (GET /metrics, /healthz)", admin_->address().c_str());
    }
    if (admin_)
        admin_->set_limits(next.admin_timeout, next.admin_max_connections);
}

bool Server::reconfigure(const Config& next, std::string& err)
{
    // Listeners rebound now would admit clients into a room that is closing.
    if (closing_) {
        err = "shutting down";
        return false;
    }
    if (next.cluster_redis != config_.cluster_redis || next.cluster_stream != config_.cluster_stream ||
        next.cluster_node != config_.cluster_node || next.cluster_maxlen != config_.cluster_maxlen ||
        next.cluster_timeout != config_.cluster_timeout ||
        next.cluster_lease != config_.cluster_lease || next.reuse_port != config_.reuse_port) {
        err = "[cluster] and reuse_port take effect only at start; restart evchat to change them";
        return false;
    }
    if (!bind_all(next, err))
        return false;
    config_ = next;
    for (auto& c : clients_)
        c->reconfigure();
    arm_idle_timer();
    arm_summary_timer();
    return true;
}

void Server::arm_summary_timer()
{
    ev_timer_stop(loop_, &summary_timer_);
    if (config_.summary_interval <= 0)
        return;
    ev_timer_set(&summary_timer_, config_.summary_interval, config_.summary_interval);
    ev_timer_start(loop_, &summary_timer_);
}

// The operator's periodic line; the backlog walk is O(clients), once per interval.
void Server::on_summary_timer(struct ev_loop*, ev_timer* w, int)
{
    auto* self = static_cast<Server*>(w->data);
    uint64_t total, largest;
    self->backlog_totals(total, largest);
    double interval = self->config_.summary_interval;
    uint64_t lines = self->room_.lines_said(), deliveries = self->room_.deliveries();
    self->log_.write(LogLevel::info,
                     "summary: %zu clients (%zu in the room), %.0f lines/s, %.0f deliveries/s, "
                     "backlog %llu bytes (largest %llu), log %zu bytes in %zu chunks",
                     self->clients_.size(), self->room_.size(),
                     (lines - self->summary_lines_) / interval,
                     (deliveries - self->summary_deliveries_) / interval,
                     static_cast<unsigned long long>(total), static_cast<unsigned long long>(largest),
                     self->room_.log().bytes_held(), self->room_.log().chunk_count());
    self->summary_lines_ = lines;
    self->summary_deliveries_ = deliveries;
}

void Server::backlog_totals(uint64_t& total, uint64_t& largest) const
{
    total = largest = 0;
    for (auto& c : clients_) {
        uint64_t b = c->backlog();
        total += b;
        largest = std::max(largest, b);
    }
}

// Everything is read now, at scrape time: the loop's counters cost one increment each,
// and the walk over the clients is O(clients) per scrape.
std::string Server::metrics_text()
{
    MetricsSnapshot s;
    s.stats = stats_;
    s.refused_fd_limit = closed_exhaustions_;
    for (auto& l : listeners_)
        s.refused_fd_limit += l->exhaustions();
    s.lines_said = room_.lines_said();
    s.deliveries = room_.deliveries();
    s.clients = clients_.size();
    s.room_members = room_.size();
    backlog_totals(s.backlog_bytes, s.backlog_largest_bytes);
    s.log_chunks = room_.log().chunk_count();
    s.log_bytes = room_.log().bytes_held();
    s.process = read_process_figures();
    return format_metrics(s);
}

// Healthy while a chat client that connects now would be served.
std::string Server::unhealthy_reason() const
{
    if (closing_)
        return "shutting down";
    if (listeners_.empty())
        return "not listening";
    if (cluster_ && !cluster_->up())
        return "cluster link down";
    return "";
}

void Server::claim_name(Client& c, const std::string& name)
{
    assert(cluster_);
    c.claim = next_claim_++;
    claims_[c.claim] = &c;
    cluster_->claim(c.claim, name);
}

void Server::cancel_claim(Client& c)
{
    claims_.erase(c.claim);
    cluster_->cancel(c.claim);
}

void Server::release_name(const Client& c)
{
    cluster_->release(c.claim);
}

void Server::name_claimed(uint64_t id, const std::string& name, bool ok)
{
    auto it = claims_.find(id);
    assert(it != claims_.end());  // a client that goes cancels its claim
    Client& c = *it->second;
    claims_.erase(it);
    c.named(name, ok);
}

void Server::accept_client(int fd, const sockaddr* peer)
{
    std::string addr = format_address(peer);
    std::string host = addr.substr(0, addr.rfind(':'));
    if (!check_admission(fd, addr, host)) {
        close(fd);
        return;
    }
    // Lines are small and already batched per loop iteration: Nagle would only add delay.
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    clients_per_host_[host]++;
    stats_.accepted++;
    clients_.push_back(std::make_unique<Client>(*this, fd, std::move(addr), std::move(host)));
    Client& c = *clients_.back();
    c.slot = clients_.size() - 1;
    c.join();
}

// A refused connection never enters the room: it gets one error line and is closed.
bool Server::check_admission(int fd, const std::string& addr, const std::string& host)
{
    const char* refusal = nullptr;
    if (clients_.size() >= config_.max_clients) {
        refusal = "server full";
        stats_.refused_full++;
    } else if (config_.max_clients_per_ip > 0) {
        auto it = clients_per_host_.find(host);
        if (it != clients_per_host_.end() && it->second >= config_.max_clients_per_ip) {
            refusal = "too many connections from your address";
            stats_.refused_per_ip++;
        }
    }
    if (!refusal)
        return true;
    // A fresh socket's buffer always takes one short line; the result does not matter.
    // Closing with the newcomer's input unread would turn the close into a reset, which
    // may discard the line: shut the write side and take what has arrived first.
    std::string line = std::string("error: ") + refusal + "\n";
    ssize_t ignored = write(fd, line.data(), line.size());
    (void)ignored;
    ::shutdown(fd, SHUT_WR);
    for (int i = 0; i < 4 && read(fd, read_buffer_.get(), read_buffer_size) > 0; i++) {
    }
    if (size_t n = refusals_.count(ev_now(loop_)))
        log_.write(LogLevel::warn, "refused %s: %s (%zu refused since the last report; %zu clients)",
                   addr.c_str(), refusal, n, clients_.size());
    return false;
}

void Server::schedule_flush(Client& c)
{
    if (!c.scheduled) {
        c.scheduled = true;
        scheduled_.push_back(&c);
    }
}

void Server::retire(Client& c)
{
    assert(c.finished());
    retired_.push_back(&c);
}

void Server::touch_idle(IdleEntry& e)
{
    bool was_empty = idle_.empty();
    idle_.touch(e, ev_now(loop_));
    if (was_empty)
        arm_idle_timer();
}

void Server::forget_idle(IdleEntry& e)
{
    idle_.remove(e);
}

// One timer for every client, set for the longest idle one: activity costs O(1) (a move
// to the back of the list), and a sweep touches only the clients that timed out.
void Server::arm_idle_timer()
{
    ev_timer_stop(loop_, &idle_timer_);
    if (config_.idle_timeout <= 0 || idle_.empty())
        return;
    double due = idle_.front()->last_input + config_.idle_timeout - ev_now(loop_);
    ev_timer_set(&idle_timer_, due > 0 ? due : 0.0, 0.0);
    ev_timer_start(loop_, &idle_timer_);
}

void Server::on_idle_timer(struct ev_loop* loop, ev_timer* w, int)
{
    auto* self = static_cast<Server*>(w->data);
    if (!self->input_open())
        return;  // re-armed when the cluster link is back
    double now = ev_now(loop);
    while (IdleEntry* oldest = self->idle_.front()) {
        if (oldest->last_input + self->config_.idle_timeout > now)
            break;
        oldest->owner->idle_timeout();  // unlinks it
    }
    self->arm_idle_timer();
}

void Server::on_prepare(struct ev_loop*, ev_prepare* w, int)
{
    static_cast<Server*>(w->data)->flush_pass();
}

// Writes what the room said since the last pass to every client that can take it, and
// the private output of scheduled clients. Destroying retired clients may make the room
// say more ("has left"), so the pass repeats until nothing is new.
void Server::flush_pass()
{
    stats_.loop_iterations++;
    for (;;) {
        if (room_.log().end() != flushed_end_) {
            flushed_end_ = room_.log().end();
            for (size_t i = 0; i < clients_.size(); i++)
                clients_[i]->room_advanced();
        }
        for (size_t i = 0; i < scheduled_.size(); i++) {
            scheduled_[i]->scheduled = false;
            scheduled_[i]->flush();
        }
        scheduled_.clear();
        destroy_retired();
        if (room_.log().end() == flushed_end_ && scheduled_.empty())
            break;
    }
    // What this iteration said, leaves of the clients just destroyed included, goes to
    // the stream as one entry.
    if (cluster_)
        cluster_->flush();
    // A closing node in a cluster waits (within the grace) until Redis has its members'
    // leaves, or they would stay in the other nodes' rooms.
    if (closing_ && clients_.empty() && (!cluster_ || cluster_->settled()))
        ev_break(loop_, EVBREAK_ALL);
}

void Server::destroy_retired()
{
    for (Client* c : retired_) {
        size_t slot = c->slot;
        assert(clients_[slot].get() == c);
        auto host = clients_per_host_.find(c->host());
        assert(host != clients_per_host_.end());
        if (--host->second == 0)
            clients_per_host_.erase(host);
        if (slot != clients_.size() - 1) {
            std::swap(clients_[slot], clients_.back());
            clients_[slot]->slot = slot;
        }
        clients_.pop_back();
    }
    retired_.clear();
}

void Server::shutdown()
{
    if (closing_) {
        log_.write(LogLevel::info, "second signal: exiting now");
        ev_break(loop_, EVBREAK_ALL);
        return;
    }
    closing_ = true;
    log_.write(LogLevel::info, "shutting down: %zu clients, flushing for up to %g s",
               clients_.size(), config_.shutdown_grace);
    for (auto& l : listeners_)
        closed_exhaustions_ += l->exhaustions();
    listeners_.clear();  // the admin listener stays: /healthz says "shutting down"
    ev_timer_stop(loop_, &idle_timer_);
    ev_timer_stop(loop_, &summary_timer_);
    for (auto& c : clients_)
        c->close_for_shutdown();
    ev_timer_set(&grace_, config_.shutdown_grace, 0.0);
    ev_timer_start(loop_, &grace_);
}

void Server::on_grace_over(struct ev_loop* loop, ev_timer* w, int)
{
    auto* self = static_cast<Server*>(w->data);
    self->log_.write(LogLevel::warn, "shutdown grace over: closing %zu clients with output pending",
                     self->clients_.size());
    ev_break(loop, EVBREAK_ALL);
}
