// Session: joining, the sync probe, the checks on every line heard, and the flush pass;
// and the senders' windows.
#include "bench/session.h"

#include "bench/chat_client.h"
#include "bench/clock.h"
#include "bench/redis_client.h"
#include "bench/ticker.h"
#include "bench/ws_client.h"

#include <cerrno>
#include <charconv>
#include <cstring>

namespace bench {

namespace {

std::string printable(std::string_view s)
{
    std::string out(s.substr(0, 200));
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
            c = '?';
    return out;
}

}  // namespace

Session::Session(struct ev_loop* loop, const Target& target, int senders, size_t payload_size)
    : loop_(loop), target_(target), senders_(senders), size_(payload_size), sent_(senders, 0)
{
    ev_prepare_init(&prepare_, on_prepare);
    prepare_.data = this;
    ev_prepare_start(loop_, &prepare_);
}

Session::~Session() { ev_prepare_stop(loop_, &prepare_); }

Peer& Session::add(bool speaker, int rcvbuf)
{
    int i = static_cast<int>(peers_.size());
    if (target_.protocol == Protocol::chat && target_.websocket)
        peers_.push_back(make_websocket_peer(loop_, reads_, *this, i));
    else if (target_.protocol == Protocol::chat)
        peers_.push_back(make_chat_peer(loop_, reads_, *this, i));
    else
        peers_.push_back(make_redis_peer(loop_, reads_, *this, i, speaker));
    Hearing h;
    h.next.assign(senders_, 0);
    h.rcvbuf = rcvbuf;
    hearing_.push_back(std::move(h));
    return *peers_.back();
}

bool Session::start(Peer& p)
{
    Hearing& h = hearing_[p.index];
    h.started = true;
    if (!p.start(target_, h.rcvbuf)) {
        fail("peer " + std::to_string(p.index) + " cannot connect: " + strerror(errno));
        h.closed = true;
        failed_++;
        disconnected_++;
        return false;
    }
    joining_++;
    return true;
}

void Session::start_more()
{
    while (joining_ < concurrency_ && next_start_ < peers_.size()) {
        Peer& p = *peers_[next_start_++];
        if (!hearing_[p.index].started)
            start(p);
    }
}

bool Session::join(size_t concurrency, double timeout)
{
    concurrency_ = concurrency > 0 ? concurrency : 1;
    start_more();
    bool ok = run([&] { return joined_ + failed_ >= peers_.size(); }, timeout);
    concurrency_ = 0;
    if (!ok)
        fail("timeout: " + std::to_string(joined_) + " of " + std::to_string(peers_.size()) +
             " peers joined in " + std::to_string(timeout) + " s");
    return ok && failed_ == 0;
}

bool Session::sync(double timeout)
{
    unsynced_ = 0;
    for (const Hearing& h : hearing_)
        if (h.joined && !h.closed && !h.synced)
            unsynced_++;
    if (unsynced_ == 0)
        return true;
    if (hearing_[0].closed) {
        fail("sync: peer 0 is gone");
        return false;
    }
    syncing_ = true;
    send_probe();
    Ticker retry(loop_, 0.005, [this] {
        if (probe_back_ && unsynced_ > 0)
            send_probe();
    });
    bool ok = run([&] { return unsynced_ == 0; }, timeout);
    syncing_ = false;
    if (!ok)
        fail("timeout: " + std::to_string(unsynced_) + " peers never heard the sync probe");
    return ok;
}

void Session::send_probe()
{
    say(*peers_[0], "sync " + std::to_string(++probe_round_));
    probe_back_ = false;
}

bool Session::run(const std::function<bool()>& done, double timeout)
{
    uint64_t deadline = now_ns() + static_cast<uint64_t>(timeout * 1e9);
    Ticker wake(loop_, 0.05, [] {});
    while (!done()) {
        if (now_ns() >= deadline)
            return false;
        ev_run(loop_, EVRUN_ONCE);
    }
    return true;
}

void Session::send_data(int s, uint64_t now)
{
    Data d;
    d.sender = static_cast<uint32_t>(s);
    d.seq = sent_[s]++;
    d.sent_ns = now;
    format_data(scratch_, d, size_);
    say(*peers_[s], scratch_);
}

void Session::say(Peer& p, std::string_view payload)
{
    p.say(payload);
    Hearing& h = hearing_[p.index];
    if (!h.dirty) {
        h.dirty = true;
        dirty_.push_back(p.index);
    }
}

uint64_t Session::total_sent() const
{
    uint64_t n = 0;
    for (uint64_t s : sent_)
        n += s;
    return n;
}

void Session::on_prepare(struct ev_loop*, ev_prepare* w, int) { static_cast<Session*>(w->data)->flush_pass(); }

void Session::flush_pass()
{
    // A flush may fail and close a peer, whose hooks may queue more: take the list first.
    flushing_.swap(dirty_);
    for (int i : flushing_) {
        hearing_[i].dirty = false;
        peers_[i]->flush();
    }
    flushing_.clear();
}

void Session::joined(Peer& p)
{
    Hearing& h = hearing_[p.index];
    h.joined = true;
    joined_++;
    if (joining_ > 0)
        joining_--;
    last_join_ns_ = now_ns();
    if (on_joined)
        on_joined(p);
    start_more();
}

void Session::heard(Peer& p, std::string_view from, std::string_view payload, uint64_t now)
{
    if (payload.empty() || payload[0] < '0' || payload[0] > '9') {
        heard_probe(p, from, payload, now);
        return;
    }
    Hearing& h = hearing_[p.index];
    Data d;
    // Truncated (shorter than the size sent) or padded where it should not be.
    bool sized = payload.size() == size_ || (payload.size() > size_ && payload.back() != 'x');
    if (!sized || !parse_data(payload, d) || d.sender >= sent_.size() || d.seq >= sent_[d.sender]) {
        bad_lines_++;
        fail("peer " + std::to_string(p.index) + " heard a line never sent: " + printable(payload));
        return;
    }
    if (target_.protocol == Protocol::chat && from != peers_[d.sender]->name()) {
        bad_prefix_++;
        fail("peer " + std::to_string(p.index) + " heard a line of " + peers_[d.sender]->name() +
             " as from " + printable(from));
    }
    uint64_t& next = h.next[d.sender];
    if (d.seq < next) {
        duplicated_++;
        fail("peer " + std::to_string(p.index) + " heard seq " + std::to_string(d.seq) +
             " of sender " + std::to_string(d.sender) + " again, after " + std::to_string(next - 1));
        return;
    }
    if (d.seq > next) {
        if (h.exempt) {
            h.gaps++;
        } else {
            misordered_++;
            fail("peer " + std::to_string(p.index) + " heard seq " + std::to_string(d.seq) +
                 " of sender " + std::to_string(d.sender) + " where " + std::to_string(next) +
                 " was due");
        }
    }
    next = d.seq + 1;
    h.delivered++;
    h.order = (h.order ^ (static_cast<uint64_t>(d.sender) << 40 | d.seq)) * 0x100000001b3u;
    h.last_heard_ns = now;
    if (!h.exempt) {
        delivered_++;
        last_delivery_ns_ = now;
        if (record_latency)
            latency.record(now > d.sent_ns ? now - d.sent_ns : 0);
    }
    if (on_data)
        on_data(p, d, now);
}

void Session::heard_probe(Peer& p, std::string_view from, std::string_view payload, uint64_t now)
{
    static constexpr std::string_view probe = "sync ";
    if (payload.substr(0, probe.size()) != probe) {
        if (on_other) {
            on_other(p, from, payload);
        } else {
            bad_lines_++;
            fail("peer " + std::to_string(p.index) + " heard an unexpected line: " + printable(payload));
        }
        return;
    }
    if (target_.protocol == Protocol::chat && from != peers_[0]->name()) {
        bad_prefix_++;
        fail("peer " + std::to_string(p.index) + " heard peer 0's probe as from " + printable(from));
    }
    uint64_t round = 0;
    std::from_chars(payload.data() + probe.size(), payload.data() + payload.size(), round);
    Hearing& h = hearing_[p.index];
    if (!h.synced) {
        h.synced = true;
        last_sync_ns_ = now;
        if (syncing_ && unsynced_ > 0)
            unsynced_--;
    }
    if (p.index == 0 && round == probe_round_)
        probe_back_ = true;
}

void Session::presence(Peer& p, Presence kind, std::string_view addr)
{
    if (on_presence)
        on_presence(p, kind, addr);
}

void Session::garbled(Peer& p, std::string_view what)
{
    bad_lines_++;
    fail("peer " + std::to_string(p.index) + ": " + printable(what));
}

void Session::closed(Peer& p, const char* why)
{
    Hearing& h = hearing_[p.index];
    if (h.closed)
        return;
    h.closed = true;
    if (!h.joined) {
        failed_++;
        if (joining_ > 0)
            joining_--;
    } else if (syncing_ && !h.synced && unsynced_ > 0) {
        unsynced_--;
    }
    if (on_closed) {
        on_closed(p, why);
    } else if (!h.exempt) {
        disconnected_++;
        fail("peer " + std::to_string(p.index) + (h.joined ? " disconnected: " : " could not join: ") + why);
    }
    start_more();
}

void Session::fail(std::string what)
{
    if (first_error_.empty())
        first_error_ = std::move(what);
}

bool Session::report(JsonLine& out, const std::vector<std::string>& notes)
{
    uint64_t total = total_sent();
    uint64_t receivers = 0, order_mismatch = 0, reference = 0;
    bool have_reference = false;
    for (const Hearing& h : hearing_) {
        if (!h.synced || h.exempt)
            continue;
        receivers++;
        // Every peer that heard everything must have heard it in the same order.
        if (h.delivered != total)
            continue;
        if (!have_reference) {
            reference = h.order;
            have_reference = true;
        } else if (h.order != reference) {
            order_mismatch++;
        }
    }
    uint64_t expected = receivers * total;
    uint64_t lost = expected > delivered_ ? expected - delivered_ : 0;
    std::vector<std::string> failures = notes;
    auto count = [&](const char* name, uint64_t n) {
        out.num(name, static_cast<double>(n));
        if (n > 0)
            failures.push_back(std::string(name) + " " + std::to_string(n));
    };
    out.num("expected", static_cast<double>(expected));
    out.num("delivered", static_cast<double>(delivered_));
    count("lost", lost);
    count("duplicated", duplicated_);
    count("misordered", misordered_);
    count("bad_prefix", bad_prefix_);
    count("bad_lines", bad_lines_);
    count("disconnected", disconnected_);
    count("order_mismatch", order_mismatch);
    std::string list;
    for (const std::string& f : failures)
        list += (list.empty() ? "" : ", ") + f;
    out.flag("ok", failures.empty());
    out.str("failures", list);
    out.str("first_error", first_error_);
    return failures.empty();
}

void SendWindow::pump(int i, uint64_t now)
{
    while (!stopped_ && in_flight_[i] < window_ && static_cast<long>(s_.sent(i)) < lines_) {
        s_.send_data(i, now);
        in_flight_[i]++;
    }
}

void SendWindow::heard(const Peer& p, const Data& d, uint64_t now)
{
    if (static_cast<int>(d.sender) == p.index) {
        in_flight_[d.sender]--;
        pump(p.index, now);
    }
}

}  // namespace bench
