// Server: accepting clients, admission, the idle sweep, the flush pass, reload and
// shutdown.
#include "server.h"

#include "admin.h"
#include "cluster.h"
#include "listener.h"
#include "metrics.h"
#include "web.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <ctime>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

Server::Server(struct ev_loop* loop, const Config& config, Log& log)
    : loop_(loop), config_(config), log_(log), io_(loop, log), local_names_(room_), cluster_(make_cluster()),
      idle_(loop), chat_{room_, cluster_ ? cluster_->names() : local_names_, idle_, config_, stats_, log_, *this},
      refusals_(io_),
      proxies_(io_, ProxyGate::Header::required, stats_.refused_proxy,
               [this](Socket s, std::string addr, std::string rest) {
                   accept_client(std::move(s), std::move(addr), std::move(rest));
               }),
      tls_proxies_(io_, ProxyGate::Header::required, stats_.refused_proxy,
                   [this](Socket s, std::string addr, std::string rest) {
                       tls_gate_.hold(std::move(s), std::move(addr), std::move(rest));
                   }),
      tls_gate_(io_, stats_.tls_handshakes, [this](Socket s, std::string addr, std::string rest) {
          accept_client(std::move(s), std::move(addr), std::move(rest));
      })
{
    start_ring();
    access_.configure(config_.access);
    proxies_.configure(config_.proxy);
    tls_proxies_.configure(config_.proxy);
    // Flushing just before the loop sleeps batches every line said in this iteration
    // into one writev per client.
    ev_prepare_init(&prepare_, on_prepare);
    prepare_.data = this;
    ev_prepare_start(loop_, &prepare_);
    ev_init(&grace_, on_grace_over);
    grace_.data = this;
    ev_init(&summary_timer_, on_summary_timer);
    summary_timer_.data = this;
    arm_summary_timer();
    idle_.set_timeout(config_.client.idle_timeout);
    room_.set_encoding(&frames_);
    room_.configure(config_.room, config_.client.max_line_bytes);
    ev_init(&presence_timer_, on_presence_timer);
    presence_timer_.data = this;
    if (cluster_) {
        room_.set_relay(&cluster_->relay());
        cluster_->start();
    }
}

// One line says which path the flush pass takes: the kernel, its io_uring_disabled setting
// or a container's seccomp profile may refuse the ring, and writev serves as well.
void Server::start_ring()
{
    // Sends per submission. One submission for a whole pass costs the least CPU, but its
    // receivers hear nothing until the last send is prepared: at 100k deliveries/s to 100
    // clients, p99 was 1.45 times writev's; by 8, the receivers work while the pass goes
    // on (p99 as writev's, or better) and the CPU saved is the same (scripts/compare; README).
    constexpr unsigned batch = 8;
    if (config_.server.io_uring == IoUring::off) {
        log_.write(LogLevel::info, "flush: writev (io_uring = \"off\")");
        return;
    }
    std::string why;
    io_.ring = WriteRing::open(batch, why);
    if (io_.ring)
        log_.write(LogLevel::info, "flush: io_uring (%u sends per submission)", batch);
    else
        log_.write(LogLevel::warn, "io_uring unavailable (%s): flushing with writev", why.c_str());
}

std::unique_ptr<Cluster> Server::make_cluster()
{
    if (!config_.cluster.enabled())
        return nullptr;
    return std::make_unique<Cluster>(loop_, config_.cluster, log_, room_, [this] { input_changed(); },
                                     [this] {
                                         fenced_ = true;
                                         ev_break(loop_, EVBREAK_ALL);
                                     });
}

bool Server::input_open() const
{
    return !cluster_ || cluster_->readable();
}

// Reading every client's input stops while the cluster cannot take it (its link is down,
// or too much waits for Redis), and starts again when it can; the cluster logs why.
// Clients could not be heard meanwhile: that time is not theirs to be idle in.
void Server::input_changed()
{
    bool open = input_open();
    if (open != input_was_open_)
        idle_.set_paused(!open);
    input_was_open_ = open;
    for (auto& c : clients_)
        c->refresh();
}

Server::~Server()
{
    admin_.reset();
    ev_prepare_stop(loop_, &prepare_);
    ev_timer_stop(loop_, &grace_);
    ev_timer_stop(loop_, &summary_timer_);
    ev_timer_stop(loop_, &presence_timer_);
    listeners_.clear();
    tls_listeners_.clear();
    web_.clear();
    clients_.clear();
    refusals_.destroy_closed();
    room_.set_relay(nullptr);
    cluster_.reset();
}

namespace {

// The addresses of wanted not bound in current yet, bound now into fresh by open(text,
// where, err); nothing changes unless all of them are bound.
template <class L, class Open>
bool bind_new(const std::vector<std::unique_ptr<L>>& current, const std::vector<std::string>& wanted, Open open,
              std::vector<std::unique_ptr<L>>& fresh, std::string& err)
{
    for (const std::string& text : wanted) {
        if (std::any_of(current.begin(), current.end(), [&](const auto& l) { return l->configured() == text; }))
            continue;
        ListenAddress where;
        if (!parse_listen_address(text, where, err))
            return false;
        std::unique_ptr<L> l = open(text, where, err);
        if (!l)
            return false;
        fresh.push_back(std::move(l));
    }
    return true;
}

// Replaces current by the listeners wanted names: fresh ones, and those of current that
// wanted still names; the others close. Returns the exhaustions of those closed.
template <class L>
uint64_t replace(std::vector<std::unique_ptr<L>>& current, const std::vector<std::string>& wanted,
                 std::vector<std::unique_ptr<L>> fresh, Log& log, const char* what)
{
    // Said only once every new address is bound: scripts learn ports from these lines.
    for (auto& l : fresh)
        log.write(LogLevel::info, "%slistening on %s", what, l->address().c_str());
    uint64_t exhaustions = 0;
    for (auto& l : current) {
        if (std::find(wanted.begin(), wanted.end(), l->configured()) == wanted.end()) {
            log.write(LogLevel::info, "%sno longer listening on %s", what, l->address().c_str());
            exhaustions += l->exhaustions();
            continue;
        }
        fresh.push_back(std::move(l));
    }
    current = std::move(fresh);
    return exhaustions;
}

}  // namespace

bool Server::listen(std::string& err)
{
    std::unique_ptr<TlsContext> tls;
    if (!load_tls(config_, tls, err) || !bind_all(config_, err))
        return false;
    install_tls(config_, std::move(tls));
    return true;
}

// The certificate and key of next, read again whatever changed: a reload is how a renewed
// certificate is taken. Before anything else changes, so that a failure changes nothing.
bool Server::load_tls(const Config& next, std::unique_ptr<TlsContext>& fresh, std::string& err)
{
    if (next.tls.cert.empty())
        return true;
    TlsContext::Culprit culprit;
    fresh = TlsContext::load(next.tls, err, culprit);
    if (!fresh)
        err = "[tls] " + err;
    return fresh != nullptr;
}

void Server::install_tls(const Config& next, std::unique_ptr<TlsContext> fresh)
{
    // Sessions under way keep the context they were made from: only the pointer changes.
    tls_ = std::move(fresh);
    tls_gate_.configure(tls_.get(), next.tls.handshake_timeout, next.server.max_clients);
    for (auto& w : web_)
        w->configure(next.websocket.origins, next.websocket.timeout, next.server.max_clients, next.proxy,
                     next.websocket.tls ? tls_.get() : nullptr, next.tls.handshake_timeout);
    stats_.tls_cert_not_after = tls_ ? tls_->not_after() : 0;
    if (tls_) {
        time_t until = static_cast<time_t>(tls_->not_after());
        struct tm tm;
        char when[32];
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&until, &tm));
        log_.write(until < ev_now(loop_) ? LogLevel::warn : LogLevel::info,
                   "TLS certificate %s, serial %s, valid until %s%s", tls_->subject().c_str(),
                   tls_->serial().c_str(), when, until < ev_now(loop_) ? " (expired)" : "");
    }
}

// The chat, web and admin listeners that next asks for: all of them, or no change at all.
// New addresses are bound before old ones close.
bool Server::bind_all(const Config& next, std::string& err)
{
    std::vector<std::unique_ptr<Listener>> chat;
    std::vector<std::unique_ptr<Listener>> tls;
    std::vector<std::unique_ptr<WebListener>> web;
    std::unique_ptr<Admin> admin;
    // A chat listener whose accepted sockets go to accept (plain or TLS).
    auto opener = [&](void (Server::*accept)(int, const sockaddr*)) {
        return [&, accept](const std::string& text, const ListenAddress& where, std::string& e) {
            auto l = std::make_unique<Listener>(loop_, log_,
                                                [this, accept](int fd, const sockaddr* peer) { (this->*accept)(fd, peer); });
            return l->open(text, where, next.server.backlog, next.server.reuse_port, e) ? std::move(l) : nullptr;
        };
    };
    auto open_chat = opener(&Server::accept_client);
    auto open_tls = opener(&Server::accept_tls);
    auto open_web = [&](const std::string& text, const ListenAddress& where, std::string& e) {
        auto l = std::make_unique<WebListener>(
            io_, stats_.refused_proxy, stats_.tls_handshakes,
            [this](Socket s, std::string peer, std::string rest, std::string response) {
                accept_websocket(std::move(s), std::move(peer), std::move(rest), std::move(response));
            });
        return l->open(text, where, e) ? std::move(l) : nullptr;
    };
    if (!open_admin(next, admin, err) || !bind_new(listeners_, next.server.listen, open_chat, chat, err) ||
        !bind_new(tls_listeners_, next.tls.listen, open_tls, tls, err) ||
        !bind_new(web_, next.websocket.listen, open_web, web, err))
        return false;
    closed_exhaustions_ += replace(listeners_, next.server.listen, std::move(chat), log_, "");
    closed_exhaustions_ += replace(tls_listeners_, next.tls.listen, std::move(tls), log_, "tls ");
    for (auto* group : {&listeners_, &tls_listeners_})
        for (auto& l : *group)
            l->set_backlog(next.server.backlog);
    closed_exhaustions_ += replace(web_, next.websocket.listen, std::move(web), log_, "web ");
    install_admin(next, std::move(admin));
    return true;
}

// Opens next's admin listener into fresh if next moves it; before anything else changes,
// so that a failure changes nothing.
bool Server::open_admin(const Config& next, std::unique_ptr<Admin>& fresh, std::string& err)
{
    if (next.admin.listen.empty() || (admin_ && admin_->configured() == next.admin.listen))
        return true;
    ListenAddress where;
    if (!parse_listen_address(next.admin.listen, where, err))
        return false;
    fresh = std::make_unique<Admin>(
        io_, Admin::Source{[this] { return metrics_text(); }, [this] { return unhealthy_reason(); }});
    return fresh->open(next.admin.listen, where, err);
}

// Logged after the chat listeners, so that the first "listening on" lines are always the
// chat addresses, as scripts and the tests expect.
void Server::install_admin(const Config& next, std::unique_ptr<Admin> fresh)
{
    if (admin_ && (fresh || next.admin.listen.empty())) {
        log_.write(LogLevel::info, "admin listener on %s closed", admin_->address().c_str());
        admin_.reset();
    }
    if (fresh) {
        admin_ = std::move(fresh);
        log_.write(LogLevel::info, "admin listening on %s (GET /metrics, /healthz)", admin_->address().c_str());
    }
    if (admin_)
        admin_->set_limits(next.admin.timeout, next.admin.max_connections);
}

bool Server::reconfigure(const Config& next, std::string& err)
{
    // Listeners rebound now would admit clients into a room that is closing.
    if (closing_) {
        err = "shutting down";
        return false;
    }
    if (std::string keys = restart_only_changes(config_, next); !keys.empty()) {
        err = keys + " take effect only at start; restart evchat to change them";
        return false;
    }
    std::unique_ptr<TlsContext> tls;
    if (!load_tls(next, tls, err) || !bind_all(next, err))
        return false;
    config_ = next;
    install_tls(config_, std::move(tls));
    access_.configure(config_.access);
    proxies_.configure(config_.proxy);
    tls_proxies_.configure(config_.proxy);
    for (auto& c : clients_)
        c->reconfigure();
    if (config_.access.apply_to_connected)
        apply_access_to_connected();
    idle_.set_timeout(config_.client.idle_timeout);
    arm_summary_timer();
    room_.configure(config_.room, config_.client.max_line_bytes);
    ev_timer_stop(loop_, &presence_timer_);  // the flush pass sets it again, by the new interval
    return true;
}

void Server::arm_summary_timer()
{
    ev_timer_stop(loop_, &summary_timer_);
    if (config_.log.summary_interval <= 0)
        return;
    ev_timer_set(&summary_timer_, config_.log.summary_interval, config_.log.summary_interval);
    ev_timer_start(loop_, &summary_timer_);
}

// The operator's periodic line; the backlog walk is O(clients), once per interval.
void Server::on_summary_timer(struct ev_loop*, ev_timer* w, int)
{
    auto* self = static_cast<Server*>(w->data);
    uint64_t total, largest;
    self->backlog_totals(total, largest);
    double interval = self->config_.log.summary_interval;
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
    s.refused_fd_limit = closed_exhaustions_ + open_exhaustions();
    s.lines_said = room_.lines_said();
    s.deliveries = room_.deliveries();
    for (auto& c : clients_)
        s.clients[static_cast<size_t>(c->transport())]++;
    s.room_members = room_.size();
    backlog_totals(s.backlog_bytes, s.backlog_largest_bytes);
    for (const RoomLog* log : {static_cast<const RoomLog*>(&room_.log()), room_.encoded_log()})
        if (log) {
            s.log_chunks += log->chunk_count();
            s.log_bytes += log->bytes_held();
        }
    if (const RoomHistory* history = room_.history())
        s.log_bytes += history->bytes_held();
    if (const WriteRing* ring = io_.ring.get()) {
        s.io_uring = true;
        s.ring_sends = ring->submitted();
        s.ring_submissions = ring->submissions();
        s.ring_short_sends = ring->short_sends();
    }
    s.process = read_process_figures();
    return format_metrics(s);
}

// Failed accepts of the listeners open now (chat, TLS and web).
uint64_t Server::open_exhaustions() const
{
    uint64_t n = 0;
    for (auto* group : {&listeners_, &tls_listeners_})
        for (auto& l : *group)
            n += l->exhaustions();
    for (auto& w : web_)
        n += w->exhaustions();
    return n;
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

void Server::accept_client(int fd, const sockaddr* peer)
{
    if (!proxies_.hold(fd, peer))
        accept_client(Socket(fd), format_address(peer), {});
}

// The PROXY header comes before the handshake, which comes before the chat.
void Server::accept_tls(int fd, const sockaddr* peer)
{
    if (!tls_proxies_.hold(fd, peer))
        tls_gate_.hold(Socket(fd), format_address(peer), {});
}

// A chat client, by its own address or the one its trusted proxy named; rest is what
// came after the PROXY header (or with the end of the TLS handshake). Over TLS a refusal
// is said in the session.
void Server::accept_client(Socket socket, std::string addr, std::string rest)
{
    if (closing_)
        return;  // held by a gate until now: the room is closed
    if (const char* why = check_admission(addr)) {
        refusals_.refuse(std::move(socket), std::move(addr), std::string("error: ") + why + "\n",
                         config_.client.drain_timeout);
        return;
    }
    Transport t = socket.tls() ? Transport::tls : Transport::tcp;
    admit(socket, t).add(std::make_unique<Client>(io_, chat_, as_owner(), std::move(socket), std::move(addr))).start(rest);
}

// After a reload with apply_to_connected: the clients the new lists refuse leave.
void Server::apply_access_to_connected()
{
    size_t put_out = 0;
    for (size_t i = 0; i < clients_.size(); i++) {
        Client& c = clients_[i];
        IpAddress ip;
        if (c.closed() || !parse_ip_of_addr(c.peer(), ip) || access_.allowed(ip))
            continue;
        c.put_out(LeaveReason::access, "error: access denied\n");
        put_out++;
    }
    if (put_out > 0)
        log_.write(LogLevel::info, "reload: put out %zu connected clients the access lists now refuse", put_out);
}

// Over the budget of unfinished input, the clients holding the most leave, most first,
// until the rest fits: an attacker's many long lines cost them, never the short talkers.
void Server::input_over_budget()
{
    std::vector<std::pair<size_t, Client*>> holders;
    for (size_t i = 0; i < clients_.size(); i++)
        if (size_t held = clients_[i].input_held())
            holders.emplace_back(held, &clients_[i]);
    std::sort(holders.begin(), holders.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    std::string farewell = "error: line too long (max " + std::to_string(config_.client.max_line_bytes) + " bytes)\n";
    size_t put_out = 0;
    uint64_t before = stats_.input_held;
    for (auto& [held, c] : holders) {
        if (stats_.input_held <= config_.server.max_input_memory)
            break;
        c->put_out(LeaveReason::input_memory, farewell);
        put_out++;
    }
    if (size_t n = input_trims_logged_.count(ev_now(loop_)))
        log_.write(LogLevel::warn,
                   "unfinished lines held %llu bytes, over max_input_memory (%zu): put out the %zu clients "
                   "holding the longest (%zu such bursts since the last report)",
                   static_cast<unsigned long long>(before), config_.server.max_input_memory, put_out, n);
}

// A WebSocket client whose handshake is done: refused like any newcomer, but in frames
// after its 101, and with a close that says why (try again later, or a policy).
void Server::accept_websocket(Socket socket, std::string addr, std::string rest, std::string response)
{
    if (closing_)
        return;
    bool denied = false;
    if (const char* why = check_admission(addr, &denied)) {
        frames_.text(response, std::vector<std::string_view>{"error: ", why});
        frames_.close(response, denied ? CloseCode::policy : CloseCode::try_again_later, why);
        refusals_.refuse(std::move(socket), std::move(addr), std::move(response), config_.client.drain_timeout);
        return;
    }
    Transport t = socket.tls() ? Transport::wss : Transport::websocket;
    admit(socket, t)
        .add(std::make_unique<Client>(io_, chat_, as_owner(), std::move(socket), std::move(addr), frames_,
                                      std::move(response)))
        .start(rest);
}

// A newcomer let in: counted, and its socket set for chat.
Slots<Client>& Server::admit(const Socket& socket, Transport t)
{
    // Lines are small and already batched per loop iteration: Nagle would only add delay.
    int one = 1;
    setsockopt(socket.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    stats_.count_accepted(t);
    return clients_;
}

// Lets a newcomer from addr in (counted for its host), or says why not: then it never
// enters, and gets one error line. Refusals come in storms: logged at most once a second,
// with a count.
const char* Server::check_admission(const std::string& addr, bool* denied)
{
    const char* why = nullptr;
    IpAddress ip;
    auto verdict = AccessPolicy::Verdict::admit;
    if (access_.active() && parse_ip_of_addr(addr, ip))
        verdict = access_.check(ip, ev_now(loop_));
    if (verdict != AccessPolicy::Verdict::admit) {
        (verdict == AccessPolicy::Verdict::denied ? stats_.refused_access : stats_.refused_rate)++;
        why = refusal_text(verdict);
        if (denied)
            *denied = verdict == AccessPolicy::Verdict::denied;
    } else if (clients_.size() >= config_.server.max_clients) {
        stats_.refused_full++;
        why = "server full";
    } else if (config_.server.max_clients_per_ip > 0) {
        auto it = clients_per_host_.find(host_of(addr));
        if (it != clients_per_host_.end() && it->second >= config_.server.max_clients_per_ip) {
            stats_.refused_per_ip++;
            why = "too many connections from your address";
        }
    }
    if (why) {
        if (size_t n = refusals_logged_.count(ev_now(loop_)))
            log_.write(LogLevel::warn, "refused %s: %s (%zu refused since the last report; %zu clients)",
                       addr.c_str(), why, n, clients_.size());
        return why;
    }
    clients_per_host_[host_of(addr)]++;
    return nullptr;
}

void Server::schedule_flush(Client& c)
{
    if (!c.due_) {
        c.due_ = true;
        due_.push_back(&c);
    }
}

void Server::retire(Client& c)
{
    assert(c.closed());
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
    stats_.loop_iterations++;
    WriteRing* ring = io_.ring.get();
    if (ring)
        ring->begin();
    for (;;) {
        if (room_.changes() != flushed_changes_) {
            flushed_changes_ = room_.changes();
            for (size_t i = 0; i < clients_.size(); i++)
                clients_[i].room_advanced();
        }
        for (size_t i = 0; i < due_.size(); i++) {
            due_[i]->due_ = false;
            due_[i]->flush();
        }
        due_.clear();
        // Every send is reaped before anyone is destroyed: a retired client's send completes first.
        if (ring)
            ring->run();
        destroy_retired();
        if (room_.changes() == flushed_changes_ && due_.empty())
            break;
    }
    if (ring)
        ring->end();
    // What this iteration said, leaves of the clients just destroyed included, goes to
    // the stream as one entry.
    if (cluster_)
        cluster_->flush();
    arm_presence_timer();
    // A closing node in a cluster waits (within the grace) until Redis has its members'
    // leaves, or they would stay in the other nodes' rooms.
    if (closing_ && clients_.empty() && (!cluster_ || cluster_->settled()))
        ev_break(loop_, EVBREAK_ALL);
    // ev_now is when the loop woke: this iteration ran from then until now.
    double busy = ev_time() - ev_now(loop_);
    stats_.loop_busy_max = std::max(stats_.loop_busy_max, busy);
    io_.iteration_ran(busy);
}

// With presence "summary", arrivals and leaves wait to be said: at once if no summary was
// said for an interval, else when the interval since the last one is over.
void Server::arm_presence_timer()
{
    if (!room_.presence_waiting() || ev_is_active(&presence_timer_))
        return;
    double due = presence_said_ + config_.room.presence_interval - ev_now(loop_);
    ev_timer_set(&presence_timer_, std::max(0.0, due), 0.0);
    ev_timer_start(loop_, &presence_timer_);
}

void Server::on_presence_timer(struct ev_loop* loop, ev_timer* w, int)
{
    auto* self = static_cast<Server*>(w->data);
    self->room_.say_presence();
    self->presence_said_ = ev_now(loop);
}

void Server::destroy_retired()
{
    for (Client* c : retired_) {
        auto host = clients_per_host_.find(c->host());
        assert(host != clients_per_host_.end());
        if (--host->second == 0)
            clients_per_host_.erase(host);
        clients_.remove(*c);
    }
    retired_.clear();
    refusals_.destroy_closed();
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
               clients_.size(), config_.server.shutdown_grace);
    closed_exhaustions_ += open_exhaustions();
    listeners_.clear();  // the admin listener stays: /healthz says "shutting down"
    tls_listeners_.clear();
    web_.clear();
    idle_.set_timeout(0);
    ev_timer_stop(loop_, &summary_timer_);
    for (auto& c : clients_)
        c->shutdown();
    ev_timer_set(&grace_, config_.server.shutdown_grace, 0.0);
    ev_timer_start(loop_, &grace_);
}

void Server::on_grace_over(struct ev_loop* loop, ev_timer* w, int)
{
    auto* self = static_cast<Server*>(w->data);
    self->log_.write(LogLevel::warn, "shutdown grace over: closing %zu clients with output pending",
                     self->clients_.size());
    ev_break(loop, EVBREAK_ALL);
}
