// Slow: one client joins with a small receive buffer and stops reading, while S of C
// healthy clients send M lines each (window W). Do the healthy ones get every line, and
// how fast? And what does the server do with the slow one: disconnect it, drop lines
// from its backlog, buffer everything — or let it stall the whole room (the Go server,
// whose broadcaster waits on each client in turn)?
#include "bench/clock.h"
#include "bench/proc_stats.h"
#include "bench/scenario.h"
#include "bench/session.h"

namespace bench {

namespace {

class Slow final : public Scenario {
public:
    explicit Slow(Flags& f)
        : clients_(f.integer("clients", 10, 1, 100000)),
          senders_(f.integer("senders", 5, 1, 100000)),
          lines_(f.integer("lines", 50000, 1, 1000000000)),
          size_(f.integer("size", 64, 1, 60000)),
          window_(f.integer("window", 64, 1, 1000000)),
          rcvbuf_(f.integer("rcvbuf", 4096, 1, 1 << 30)),
          stall_(f.number("stall", 3, 0.1, 3600)),
          concurrency_(f.integer("concurrency", 256, 1, 100000)),
          timeout_(f.number("timeout", 120, 0.1, 86400))
    {
        if (senders_ > clients_)
            senders_ = clients_;
    }

    std::string name() const override
    {
        return "slow C=" + std::to_string(clients_) + "+1 S=" + std::to_string(senders_) +
               " M=" + std::to_string(lines_) + " P=" + std::to_string(size_);
    }

    bool run(struct ev_loop* loop, const Target& target, JsonLine& out) override
    {
        Session s(loop, target, senders_, size_);
        for (long i = 0; i < clients_; i++)
            s.add(i < senders_);
        Peer& slow = s.add(false, rcvbuf_);
        s.exempt(slow);
        std::vector<std::string> notes;
        SendWindow window(s, window_, lines_);
        s.on_data = [&](Peer& p, const Data& d, uint64_t now) { window.heard(p, d, now); };
        uint64_t t0 = 0, left_ns = 0;
        std::string slow_end;
        // The room tells its members when the slow one is put out.
        s.on_presence = [&](Peer& p, Presence kind, std::string_view addr) {
            if (p.index == 0 && kind == Presence::left && addr == slow.name() && left_ns == 0)
                left_ns = now_ns();
        };
        s.on_closed = [&](Peer& p, const char* why) {
            if (&p == &slow) {
                slow_end = why;
                return;
            }
            s.fail("peer " + std::to_string(p.index) + " disconnected: " + why);
            notes.push_back("a healthy client was disconnected");
        };
        uint64_t total = static_cast<uint64_t>(clients_) * senders_ * lines_;
        double elapsed = 0;
        bool complete = false;
        CpuMark m0, m1;
        // The server's memory while one client does not read: bounded by its limits.
        long rss0 = -1, rss_peak = -1, rss1 = -1;
        if (s.join(concurrency_, timeout_) && s.sync(timeout_)) {
            slow.set_reading(false);
            rss0 = rss_peak = server_rss_kib(target.pids);
            RssPeak sampler(loop, 0.05, target.pids, rss_peak);
            m0 = cpu_mark(target.pids);
            t0 = now_ns();
            for (int i = 0; i < senders_; i++)
                window.pump(i, t0);
            uint64_t stall_ns = static_cast<uint64_t>(stall_ * 1e9);
            complete = s.run([&] {
                uint64_t last = std::max(s.last_delivery_ns(), t0);
                return s.delivered() >= total || now_ns() - last > stall_ns;
            }, timeout_) && s.delivered() >= total;
            m1 = cpu_mark(target.pids);
            rss1 = server_rss_kib(target.pids);
            elapsed = seconds(std::max(s.last_delivery_ns(), t0) - t0);
            if (!complete)
                notes.push_back("healthy clients stalled");
            // Now read what the server kept for the slow one, until it ends or goes quiet.
            window.stop();
            slow.set_reading(true);
            uint64_t resumed = now_ns();
            const Hearing& sh = s.hearing(slow);
            s.run([&] {
                uint64_t last = std::max(sh.last_heard_ns, resumed);
                return sh.closed || sh.delivered >= s.total_sent() || now_ns() - last > 1000000000u;
            }, 30);
        } else {
            notes.push_back("setup failed");
        }
        const Hearing& sh = s.hearing(slow);
        std::string fate;
        if (!complete)
            fate = "stalled the room";
        else if (sh.closed || left_ns)
            fate = "disconnected";
        else if (sh.gaps > 0)
            fate = "dropped lines";
        else if (sh.delivered >= s.total_sent())
            fate = "buffered all";
        else
            fate = "kept, behind";
        double delivered = static_cast<double>(s.delivered());
        out.num("clients", clients_);
        out.num("senders", senders_);
        out.num("lines", lines_);
        out.num("size", size_);
        out.num("rcvbuf", rcvbuf_);
        out.flag("complete", complete);
        out.num("healthy_pct", total ? 100.0 * delivered / static_cast<double>(total) : 0);
        out.num("elapsed_s", elapsed);
        out.num("deliveries_per_s", elapsed > 0 ? delivered / elapsed : 0);
        out.str("slow_fate", fate);
        out.num("slow_left_s", left_ns ? seconds(left_ns - t0) : -1);
        out.str("slow_end", slow_end);
        out.num("slow_lines", static_cast<double>(sh.delivered));
        out.num("slow_gaps", static_cast<double>(sh.gaps));
        out.num("rss_before_kib", static_cast<double>(rss0));
        out.num("rss_peak_kib", static_cast<double>(rss_peak));
        out.num("rss_after_kib", static_cast<double>(rss1));
        out.num("server_cpu_s", server_cpu_seconds(m0, m1));
        out.num("gen_cpu_s", m1.self - m0.self);
        return s.report(out, notes);
    }

private:
    long clients_;
    int senders_;
    long lines_;
    size_t size_;
    long window_;
    int rcvbuf_;
    double stall_;
    long concurrency_;
    double timeout_;
};

}  // namespace

std::unique_ptr<Scenario> make_slow(Flags& flags) { return std::make_unique<Slow>(flags); }

}  // namespace bench
