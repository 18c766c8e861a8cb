// Soak: a long run of mixed load, looking for leaks and drift rather than speed.
// C healthy members (S of them senders) stay all along and chat at R lines/s in total.
// Meanwhile visitors come and go: churners join, say a line, hear it back and leave
// (every second one by RST), and K slow readers at a time each stop reading, with a
// small receive buffer, until the server puts them out (or for --slow-life s; then they
// read what was kept for them, which tells whether the server dropped lines, and reset).
// Checks: every healthy member hears every line (the Session's checks) and stays; every
// churner completes; the room announces each visitor's arrival and leave; and once the
// load has stopped and the visitors are gone, the server's memory is back near its
// baseline, measured with the same healthy members connected.
#include "bench/clock.h"
#include "bench/proc_stats.h"
#include "bench/scenario.h"
#include "bench/session.h"
#include "bench/ticker.h"

#include <algorithm>
#include <cstdio>
#include <unordered_map>
#include <unordered_set>

namespace bench {

namespace {

class Soak final : public Scenario {
public:
    explicit Soak(Flags& f)
        : clients_(f.integer("clients", 5000, 1, 100000)),
          senders_(f.integer("senders", 50, 1, 100000)),
          rate_(f.number("rate", 100, 0.1, 1e6)),
          size_(f.integer("size", 64, 1, 60000)),
          duration_(f.number("duration", 600, 1, 7 * 86400)),
          churn_(f.number("churn", 10, 0, 100000)),
          slow_(f.integer("slow", 20, 0, 10000)),
          rcvbuf_(f.integer("rcvbuf", 4096, 1, 1 << 30)),
          slow_life_(f.number("slow-life", 60, 0.1, 86400)),
          settle_(f.number("settle", 10, 0, 3600)),
          drain_(f.number("drain", 60, 1, 3600)),
          progress_(f.number("progress", 30, 0, 86400)),
          concurrency_(f.integer("concurrency", 256, 1, 100000)),
          timeout_(f.number("timeout", 300, 0.1, 86400))
    {
        if (senders_ > clients_)
            senders_ = clients_;
    }

    std::string name() const override
    {
        char text[128];
        snprintf(text, sizeof text, "soak C=%ld S=%d R=%g/s T=%gs churn=%g/s slow=%ld", clients_,
                 senders_, rate_, duration_, churn_, slow_);
        return text;
    }

    bool run(struct ev_loop* loop, const Target& target, JsonLine& out) override;

private:
    long clients_;
    int senders_;
    double rate_;
    size_t size_;
    double duration_;
    double churn_;
    long slow_;
    int rcvbuf_;
    double slow_life_;
    double settle_;
    double drain_;
    double progress_;
    long concurrency_;
    double timeout_;
};

// A peer that is not a healthy member, and where it stands. Visitors take their steps
// on the generator's tick, with the room's lines, so that the server says each batch
// to every member in one pass instead of one pass per event.
struct Visitor {
    enum class Kind { churner, slow } kind;
    // A churner: joining, joined (says its line on the next tick), said, heard (its line
    // came back; it leaves on the next tick). A slow reader: joining, warming (reads
    // until it has heard every sender, so that a gap it finds later is a line lost, not
    // one said before it came), stalled, reading (at the end of its life, for a second).
    enum class Stage { joining, joined, said, heard, warming, stalled, reading } stage = Stage::joining;
    uint64_t since = 0;    // slow: when it entered its stage
    uint64_t gaps = 0;     // slow: its gaps when it stalled
    uint64_t unheard = 0;  // slow: senders it had not heard yet when it stalled
};

// What became of the slow readers.
struct SlowFates {
    long started = 0;
    long put_out = 0;  // the server disconnected it
    long dropped = 0;  // retired, and it found lines missing when it read again
    long kept = 0;     // retired, and the server had kept every line for it
};

bool Soak::run(struct ev_loop* loop, const Target& target, JsonLine& out)
{
    if (target.protocol != Protocol::chat) {
        out.flag("ok", false);
        out.str("failures", "soak needs a chat server: its checks rest on arrivals and leaves");
        return false;
    }
    Session s(loop, target, senders_, size_);
    for (long i = 0; i < clients_; i++)
        s.add(i < senders_);
    std::vector<std::string> notes;
    std::unordered_map<int, Visitor> visitors;  // by peer index, while not gone
    std::unordered_set<std::string> members;    // the healthy members' ADDRs
    std::unordered_map<std::string, int> slow_by_name;
    SlowFates slow;
    long slow_live = 0;
    long churn_started = 0, churned = 0, churn_in_flight = 0, churn_lines_heard = 0;
    long resets = 0, errors = 0, healthy_gone = 0;
    long visitors_joined = 0, arrivals = 0, leaves = 0;  // leaves as the observer hears them
    bool loading = false, loading_started = false;  // the visitors come only then
    auto error = [&](std::string what) {
        errors++;
        s.fail(std::move(what));
    };
    auto visitor = [&](const Peer& p) -> Visitor* {
        auto it = visitors.find(p.index);
        return it == visitors.end() ? nullptr : &it->second;
    };
    // Every visitor leaves through here, whoever ended it.
    auto gone = [&](Peer& p, const Visitor& v, bool reset) {
        if (v.kind == Visitor::Kind::slow) {
            slow_by_name.erase(p.name());
            slow_live--;
        }
        p.close(reset);
        resets += reset;
        visitors.erase(p.index);
    };
    auto add_visitor = [&](Visitor::Kind kind) {
        Peer& p = s.add(false, kind == Visitor::Kind::slow ? rcvbuf_ : 0);
        // Visitors join mid-stream (and slow ones may lose lines): only healthy members
        // must hear everything. Duplicates and lines never sent still count for them.
        s.exempt(p);
        visitors[p.index] = Visitor{kind};
        if (kind == Visitor::Kind::slow) {
            slow.started++;
            slow_live++;
        } else {
            churn_started++;
            churn_in_flight++;
        }
        if (!s.start(p)) {
            errors++;
            if (kind == Visitor::Kind::churner)
                churn_in_flight--;
            gone(p, *visitor(p), false);
        }
    };
    // Moves each visitor on to its next stage (see Visitor) when its time has come.
    auto tend = [&](uint64_t now) {
        std::vector<int> due;
        for (auto& [i, v] : visitors)
            due.push_back(i);
        for (int i : due) {
            Peer& p = s.peer(i);
            Visitor& v = *visitor(p);
            const Hearing& h = s.hearing(p);
            double age = seconds(now - v.since);
            switch (v.stage) {
            case Visitor::Stage::joining:
            case Visitor::Stage::said:
                break;
            case Visitor::Stage::joined:
                s.say(p, format_churn(i));
                v.stage = Visitor::Stage::said;
                break;
            case Visitor::Stage::heard:
                churned++;
                churn_in_flight--;
                gone(p, v, churned % 2 == 1);  // every second one by RST
                break;
            case Visitor::Stage::warming:
                // A sender may be silent for long at a low rate: stall anyway after 2 s.
                if (uint64_t unheard = std::count(h.next.begin(), h.next.end(), 0u);
                    unheard == 0 || age >= 2 || !loading) {
                    v = Visitor{v.kind, Visitor::Stage::stalled, now, h.gaps, unheard};
                    p.set_reading(false);
                }
                break;
            case Visitor::Stage::stalled:
                if (age >= slow_life_ || !loading) {
                    v.stage = Visitor::Stage::reading;
                    v.since = now;
                    p.set_reading(true);
                }
                break;
            case Visitor::Stage::reading:
                if (age >= 1) {
                    // Each sender it had not heard yet may show one gap on its first line.
                    (h.gaps - v.gaps > v.unheard ? slow.dropped : slow.kept)++;
                    gone(p, v, true);
                }
                break;
            }
        }
    };

    s.on_joined = [&](Peer& p) {
        Visitor* v = visitor(p);
        if (!v)
            return;
        visitors_joined++;
        v->since = now_ns();
        if (v->kind == Visitor::Kind::churner) {
            v->stage = Visitor::Stage::joined;
        } else {
            v->stage = Visitor::Stage::warming;
            slow_by_name[p.name()] = p.index;
        }
    };
    s.on_other = [&](Peer& p, std::string_view from, std::string_view payload) {
        int id = 0;
        if (!parse_churn(payload, id) || id < clients_ || static_cast<size_t>(id) >= s.peers()) {
            error("peer " + std::to_string(p.index) + " heard an unexpected line from " + std::string(from));
            return;
        }
        if (p.index == 0) {
            churn_lines_heard++;
            if (from != s.peer(id).name())
                error("the observer heard churner " + std::to_string(id) + " as " + std::string(from));
        }
        // Its own line came back: the room heard it.
        if (Visitor* v = p.index == id ? visitor(p) : nullptr; v && v->stage == Visitor::Stage::said)
            v->stage = Visitor::Stage::heard;
    };
    s.on_presence = [&](Peer& p, Presence kind, std::string_view addr) {
        std::string name(addr);
        if (p.index != 0 || !loading_started || members.count(name))
            return;
        if (kind == Presence::arrived) {
            arrivals++;
            return;
        }
        leaves++;
        auto it = slow_by_name.find(name);
        if (it != slow_by_name.end()) {
            // The room says a stalled reader left: the server put it out. It has not
            // read its end of input; closing with its unread data resets.
            Peer& sp = s.peer(it->second);
            slow.put_out++;
            gone(sp, *visitor(sp), true);
        }
    };
    s.on_closed = [&](Peer& p, const char* why) {
        Visitor* v = visitor(p);
        if (!v) {
            healthy_gone++;
            s.fail("healthy member " + std::to_string(p.index) + " disconnected: " + why);
        } else if (v->kind == Visitor::Kind::slow && v->stage != Visitor::Stage::joining) {
            slow.put_out++;
            gone(p, *v, false);
        } else if (v->kind == Visitor::Kind::slow) {
            error("slow reader " + std::to_string(p.index) + " could not join: " + why);
            gone(p, *v, false);
        } else {
            error("churner " + std::to_string(p.index) + " ended early: " + why);
            churn_in_flight--;
            gone(p, *v, false);
        }
    };

    long rss_empty = server_rss_kib(target.pids), rss_base = -1, rss_peak = -1, rss_after = -1;
    double load_s = 0;
    CpuMark m0, m1;
    if (s.join(concurrency_, timeout_) && s.sync(timeout_)) {
        for (size_t i = 0; i < s.peers(); i++)
            members.insert(s.peer(i).name());
        // The baseline: the healthy members in the room, the join's traffic gone.
        s.run([] { return false; }, settle_);
        rss_base = rss_peak = server_rss_kib(target.pids);
        m0 = cpu_mark(target.pids);
        uint64_t t0 = now_ns(), end = t0 + static_cast<uint64_t>(duration_ * 1e9);
        uint64_t line = 0;  // lines due so far, of all senders; line k is sender k mod S's
        loading = loading_started = true;
        // Lines go out in batches, four a second: each batch costs the server a write to
        // every member and the generator a read from each, whatever its size (5,000
        // members at 10 batches/s keep both busy on two cores), and the soak is about
        // what is said and who comes and goes, not about latency.
        Ticker tick(loop, 0.25, [&] {
            uint64_t now = now_ns();
            if (loading) {
                uint64_t lines_due = static_cast<uint64_t>(seconds(now - t0) * rate_);
                for (; line < lines_due; line++)
                    s.send_data(static_cast<int>(line % senders_), now);
                long churn_due = static_cast<long>(seconds(now - t0) * churn_);
                while (churn_started < churn_due && churn_in_flight < concurrency_)
                    add_visitor(Visitor::Kind::churner);
                while (slow_live < slow_)
                    add_visitor(Visitor::Kind::slow);
            }
            tend(now);
        });
        RssPeak sampler(loop, 0.5, target.pids, rss_peak);
        std::unique_ptr<Ticker> reporter;
        if (progress_ > 0)
            reporter = std::make_unique<Ticker>(loop, progress_, [&] {
                fprintf(stderr, "soak: %.0f s: %llu lines sent, %ld churned, %ld slow readers (%ld put out), "
                        "%ld resets, %ld errors, server RSS %ld KiB (baseline %ld)\n",
                        seconds(now_ns() - t0), static_cast<unsigned long long>(s.total_sent()), churned,
                        slow.started, slow.put_out, resets, errors, server_rss_kib(target.pids), rss_base);
            });
        s.run([&] { return now_ns() >= end; }, duration_ + 1);
        loading = false;
        load_s = seconds(now_ns() - t0);
        // Everything said reaches every member; the visitors finish and leave, and the
        // observer hears each leave.
        uint64_t expected = static_cast<uint64_t>(clients_) * s.total_sent();
        if (!s.run([&] {
                return s.delivered() >= expected && visitors.empty() && arrivals >= visitors_joined &&
                       leaves >= visitors_joined;
            }, drain_))
            notes.push_back("the load did not drain in " + std::to_string(static_cast<int>(drain_)) +
                            " s (" + std::to_string(visitors.size()) + " visitors left)");
        reporter.reset();
        s.run([] { return false; }, settle_);
        m1 = cpu_mark(target.pids);
        rss_after = server_rss_kib(target.pids);
    } else {
        notes.push_back("setup failed");
    }
    // "Near the baseline": within 20% or 8 MiB of it, whichever is more. Memory freed
    // need not go back to the system: the allocator keeps its free lists and high-water
    // marks, and ASan holds freed blocks in its quarantine before reusing them (1.25 MiB
    // as scripts/soak sets it, more with their redzones), which a server that frees
    // little fills over minutes. Against the ASan server the default 10-minute run ends
    // about 4.5 MiB up while the live heap stays flat; a leak of lines or connection
    // records grows with the run instead (10 minutes: 60,000 lines, 6,400 visitors), and
    // a leak of unreachable memory LSan reports anyway.
    long rss_limit = rss_base >= 0 ? rss_base + std::max(rss_base / 5, 8L * 1024) : -1;
    if (rss_base >= 0 && rss_after > rss_limit)
        notes.push_back("server RSS after the load " + std::to_string(rss_after) + " KiB, over " +
                        std::to_string(rss_limit) + " KiB (baseline " + std::to_string(rss_base) + ")");
    if (healthy_gone > 0)
        notes.push_back(std::to_string(healthy_gone) + " healthy members disconnected");
    if (errors > 0)
        notes.push_back("errors " + std::to_string(errors));
    auto shortfall = [](long want, long got) { return want > got ? want - got : 0; };
    long missing = shortfall(churned, churn_lines_heard) + shortfall(visitors_joined, arrivals) +
                   shortfall(visitors_joined, leaves);
    if (missing > 0)
        notes.push_back("the observer missed " + std::to_string(missing) + " visitor events");

    double sent = static_cast<double>(s.total_sent());
    out.num("clients", clients_);
    out.num("senders", senders_);
    out.num("rate", rate_);
    out.num("duration_s", duration_);
    out.num("load_s", load_s);
    out.num("size", size_);
    out.num("sent", sent);
    out.num("sent_per_s", load_s > 0 ? sent / load_s : 0);
    out.num("deliveries_per_s", load_s > 0 ? static_cast<double>(s.delivered()) / load_s : 0);
    out.num("churn_rate", churn_);
    out.num("churned", churned);
    out.num("resets", resets);
    out.num("slow", slow_);
    out.num("slow_started", slow.started);
    out.num("slow_put_out", slow.put_out);
    out.num("slow_dropped", slow.dropped);
    out.num("slow_kept", slow.kept);
    out.num("visitors_joined", visitors_joined);
    out.num("observer_arrivals", arrivals);
    out.num("observer_leaves", leaves);
    out.num("observer_missing", missing);
    out.num("errors", errors);
    out.num("rss_empty_kib", rss_empty);
    out.num("rss_base_kib", rss_base);
    out.num("rss_peak_kib", rss_peak);
    out.num("rss_after_kib", rss_after);
    out.num("rss_limit_kib", rss_limit);
    out.num("server_cpu_s", server_cpu_seconds(m0, m1));
    out.num("gen_cpu_s", m1.self - m0.self);
    return s.report(out, notes);
}

}  // namespace

std::unique_ptr<Scenario> make_soak(Flags& flags) { return std::make_unique<Soak>(flags); }

}  // namespace bench
