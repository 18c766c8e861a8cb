// Fanout: C clients, S of them sending M lines of P bytes each, at most W of its own
// lines unanswered (not yet heard back) at a time: the server's throughput, and its
// deliveries per CPU-second, the figure least disturbed by a shared machine.
#include "bench/clock.h"
#include "bench/proc_stats.h"
#include "bench/scenario.h"
#include "bench/session.h"

namespace bench {

namespace {

class Fanout final : public Scenario {
public:
    explicit Fanout(Flags& f)
        : clients_(f.integer("clients", 100, 1, 100000)),
          senders_(f.integer("senders", 10, 1, 100000)),
          lines_(f.integer("lines", 1000, 1, 1000000000)),
          size_(f.integer("size", 64, 1, 60000)),
          window_(f.integer("window", 64, 1, 1000000)),
          concurrency_(f.integer("concurrency", 256, 1, 100000)),
          timeout_(f.number("timeout", 120, 0.1, 86400))
    {
        if (senders_ > clients_)
            senders_ = clients_;
    }

    std::string name() const override
    {
        return "fanout C=" + std::to_string(clients_) + " S=" + std::to_string(senders_) +
               " M=" + std::to_string(lines_) + " P=" + std::to_string(size_) +
               " W=" + std::to_string(window_);
    }

    bool run(struct ev_loop* loop, const Target& target, JsonLine& out) override
    {
        Session s(loop, target, senders_, size_);
        for (long i = 0; i < clients_; i++)
            s.add(i < senders_);
        std::vector<std::string> notes;
        SendWindow window(s, window_, lines_);
        s.on_data = [&](Peer& p, const Data& d, uint64_t now) { window.heard(p, d, now); };
        double elapsed = 0;
        CpuMark m0, m1;
        if (s.join(concurrency_, timeout_) && s.sync(timeout_)) {
            uint64_t total = static_cast<uint64_t>(clients_) * senders_ * lines_;
            m0 = cpu_mark(target.pids);
            uint64_t t0 = now_ns();
            for (int i = 0; i < senders_; i++)
                window.pump(i, t0);
            if (!s.run([&] { return s.delivered() >= total; }, timeout_))
                notes.push_back("timeout");
            m1 = cpu_mark(target.pids);
            elapsed = seconds(s.last_delivery_ns() > t0 ? s.last_delivery_ns() - t0 : 0);
        } else {
            notes.push_back("setup failed");
        }
        double delivered = static_cast<double>(s.delivered());
        double server_cpu = server_cpu_seconds(m0, m1);
        out.num("clients", clients_);
        out.num("senders", senders_);
        out.num("lines", lines_);
        out.num("size", size_);
        out.num("window", window_);
        out.num("elapsed_s", elapsed);
        out.num("deliveries_per_s", elapsed > 0 ? delivered / elapsed : 0);
        out.num("lines_in_per_s", elapsed > 0 ? s.total_sent() / elapsed : 0);
        out.num("server_cpu_s", server_cpu);
        out.num("deliveries_per_server_cpu_s", server_cpu > 0 ? delivered / server_cpu : -1);
        out.num("gen_cpu_s", m1.self - m0.self);
        out.num("gen_cpu_pct", m1.time > m0.time ? 100 * (m1.self - m0.self) / (m1.time - m0.time) : 0);
        return s.report(out, notes);
    }

private:
    long clients_;
    int senders_;
    long lines_;
    size_t size_;
    long window_;
    long concurrency_;
    double timeout_;
};

}  // namespace

std::unique_ptr<Scenario> make_fanout(Flags& flags) { return std::make_unique<Fanout>(flags); }

}  // namespace bench
