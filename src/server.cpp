// Server: accepting clients, admission, the idle sweep, the flush pass, reload and
// shutdown.
#include "server.h"

#include "client.h"

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
}

Server::~Server()
{
    ev_prepare_stop(loop_, &prepare_);
    ev_timer_stop(loop_, &grace_);
    ev_timer_stop(loop_, &idle_timer_);
    ev_timer_stop(loop_, &summary_timer_);
    listeners_.clear();
    clients_.clear();
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
        if (!listener->open(text, where, next.backlog, err))
            return false;
        log_.write(LogLevel::info, "listening on %s", listener->address().c_str());
        fresh.push_back(std::move(listener));
    }
    for (auto& l : listeners_) {
        if (std::find(next.listen.begin(), next.listen.end(), l->configured()) == next.listen.end()) {
            log_.write(LogLevel::info, "no longer listening on %s", l->address().c_str());
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
    return rebind(config_, err);
}

bool Server::reconfigure(const Config& next, std::string& err)
{
    if (!rebind(next, err))
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
    uint64_t total = 0, largest = 0;
    for (auto& c : self->clients_) {
        uint64_t b = c->backlog();
        total += b;
        largest = std::max(largest, b);
    }
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

void Server::accept_client(int fd, const sockaddr* peer)
{
    std::string addr = format_address(peer);
    std::string host = addr.substr(0, addr.rfind(':'));
    if (!admit(fd, addr, host)) {
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
bool Server::admit(int fd, const std::string& addr, const std::string& host)
{
    const char* refusal = nullptr;
    if (clients_.size() >= config_.max_clients) {
        refusal = "error: server full\n";
        stats_.refused_full++;
    } else if (config_.max_clients_per_ip > 0) {
        auto it = clients_per_host_.find(host);
        if (it != clients_per_host_.end() && it->second >= config_.max_clients_per_ip) {
            refusal = "error: too many connections from your address\n";
            stats_.refused_per_ip++;
        }
    }
    if (!refusal)
        return true;
    // A fresh socket's buffer always takes one short line; the result does not matter.
    ssize_t ignored = write(fd, refusal, strlen(refusal));
    (void)ignored;
    // Refusals come in storms: one log line per second at most, with the count.
    rejects_unlogged_++;
    double now = ev_now(loop_);
    if (now - last_reject_log_ >= 1.0) {
        log_.write(LogLevel::warn, "refused %s: %.*s (%zu refused since the last report; %zu clients)",
                   addr.c_str(), static_cast<int>(strlen(refusal) - 8), refusal + 7,
                   rejects_unlogged_, clients_.size());
        last_reject_log_ = now;
        rejects_unlogged_ = 0;
    }
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
    double now = ev_now(loop);
    while (IdleEntry* oldest = self->idle_.front()) {
        if (oldest->last_input + self->config_.idle_timeout > now)
            break;
        static_cast<Client*>(oldest->owner)->idle_timeout();  // unlinks it
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
    if (closing_ && clients_.empty())
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
    listeners_.clear();
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
