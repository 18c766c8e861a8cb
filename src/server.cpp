// Server: accepting clients, the flush pass, and shutdown.
#include "server.h"

#include "client.h"

#include <cassert>
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
}

Server::~Server()
{
    ev_prepare_stop(loop_, &prepare_);
    ev_timer_stop(loop_, &grace_);
    listeners_.clear();
    clients_.clear();
}

bool Server::listen(std::string& err)
{
    std::vector<std::unique_ptr<Listener>> opened;
    for (const std::string& text : config_.listen) {
        ListenAddress where;
        if (!parse_listen_address(text, where, err))
            return false;
        auto listener = std::make_unique<Listener>(
            loop_, log_, [this](int fd, const sockaddr* peer) { accept_client(fd, peer); });
        if (!listener->open(where, config_.backlog, err))
            return false;
        opened.push_back(std::move(listener));
    }
    for (auto& l : opened)
        log_.write(LogLevel::info, "listening on %s", l->address().c_str());
    listeners_ = std::move(opened);
    return true;
}

void Server::accept_client(int fd, const sockaddr* peer)
{
    // Lines are small and already batched per loop iteration: Nagle would only add delay.
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    clients_.push_back(std::make_unique<Client>(*this, fd, format_address(peer)));
    Client& c = *clients_.back();
    c.slot = clients_.size() - 1;
    c.join();
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

void Server::on_prepare(struct ev_loop*, ev_prepare* w, int)
{
    static_cast<Server*>(w->data)->flush_pass();
}

// Writes what the room said since the last pass to every client that can take it, and
// the private output of scheduled clients. Destroying retired clients may make the room
// say more ("has left"), so the pass repeats until nothing is new.
void Server::flush_pass()
{
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
