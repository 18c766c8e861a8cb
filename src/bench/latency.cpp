// Latency: S senders at a fixed total rate R for T seconds. Every line carries its send
// time; receivers record one-way latency in a histogram. Line k (of all senders) is due
// at start + k/R and belongs to sender k mod S. How late the generator sends it is its
// send lag, reported apart so an overloaded generator (or a server pushing back through
// TCP) is visible instead of hidden in the latency.
#include "bench/clock.h"
#include "bench/proc_stats.h"
#include "bench/scenario.h"
#include "bench/session.h"
#include "bench/ticker.h"

#include <cmath>

namespace bench {

namespace {

class Latency final : public Scenario {
public:
    explicit Latency(Flags& f)
        : clients_(f.integer("clients", 100, 1, 100000)),
          senders_(f.integer("senders", 10, 1, 100000)),
          rate_(f.number("rate", 1000, 1, 1e8)),
          duration_(f.number("duration", 5, 0.01, 86400)),
          size_(f.integer("size", 64, 1, 60000)),
          drain_(f.number("drain", 5, 0, 3600)),
          concurrency_(f.integer("concurrency", 256, 1, 100000)),
          timeout_(f.number("timeout", 120, 0.1, 86400))
    {
        if (senders_ > clients_)
            senders_ = clients_;
    }

    std::string name() const override
    {
        char rate[32];
        snprintf(rate, sizeof rate, "%g", rate_);
        return "latency R=" + std::string(rate) + " C=" + std::to_string(clients_) +
               " S=" + std::to_string(senders_) + " P=" + std::to_string(size_);
    }

    bool run(struct ev_loop* loop, const Target& target, JsonLine& out) override
    {
        Session s(loop, target, senders_, size_);
        for (long i = 0; i < clients_; i++)
            s.add(i < senders_);
        std::vector<std::string> notes;
        Histogram lag;
        uint64_t total = static_cast<uint64_t>(std::llround(rate_ * duration_));
        double elapsed = 0;
        CpuMark m0, m1;
        if (s.join(concurrency_, timeout_) && s.sync(timeout_)) {
            s.record_latency = true;
            s.read_waits() = Histogram();
            m0 = cpu_mark(target.pids);
            uint64_t t0 = now_ns();
            double ns_per_line = 1e9 / rate_;
            auto send_due = [&] {
                uint64_t now = now_ns();
                // Lines due by now, of all senders: k < due.
                uint64_t due = static_cast<uint64_t>((now - t0) / ns_per_line) + 1;
                if (due > total)
                    due = total;
                for (int i = 0; i < senders_; i++) {
                    // A sender whose socket is still full sends nothing new: its lag grows.
                    if (s.peer(i).unsent() > 0)
                        continue;
                    // Sender i's lines are k = j*S + i; those due are j < (due - i) / S, rounded up.
                    uint64_t mine = due > static_cast<uint64_t>(i) ? (due - i + senders_ - 1) / senders_ : 0;
                    for (uint64_t j = s.sent(i); j < mine; j++) {
                        uint64_t sched = t0 + static_cast<uint64_t>((j * senders_ + i) * ns_per_line);
                        lag.record(now > sched ? now - sched : 0);
                        s.send_data(i, now);
                    }
                }
            };
            send_due();
            {
                // libev's epoll wait has millisecond resolution: a finer tick buys nothing.
                Ticker tick(loop, 0.001, send_due);
                uint64_t end = t0 + static_cast<uint64_t>(duration_ * 1e9);
                s.run([&] { return now_ns() >= end; }, duration_ + 1);
            }
            send_due();  // the last lines, if the loop woke at the end before the tick
            uint64_t expected_all = static_cast<uint64_t>(clients_) * s.total_sent();
            s.run([&] { return s.delivered() >= expected_all; }, drain_);
            m1 = cpu_mark(target.pids);
            elapsed = seconds(now_ns() - t0);
        } else {
            notes.push_back("setup failed");
        }
        auto us = [](uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
        const Histogram& h = s.latency;
        double delivered = static_cast<double>(s.delivered());
        out.num("clients", clients_);
        out.num("senders", senders_);
        out.num("rate", rate_);
        out.num("duration_s", duration_);
        out.num("size", size_);
        out.num("offered_deliveries_per_s", rate_ * clients_);
        out.num("sent", static_cast<double>(s.total_sent()));
        out.num("unsent", static_cast<double>(total - s.total_sent()));
        out.num("sent_per_s", s.total_sent() / duration_);
        out.num("deliveries_per_s", delivered / duration_);
        out.num("p50_us", us(h.percentile(50)));
        out.num("p90_us", us(h.percentile(90)));
        out.num("p99_us", us(h.percentile(99)));
        out.num("p999_us", us(h.percentile(99.9)));
        out.num("max_us", us(h.max()));
        out.num("lag_p50_us", us(lag.percentile(50)));
        out.num("lag_p99_us", us(lag.percentile(99)));
        out.num("lag_max_us", us(lag.max()));
        out.num("read_wait_p99_us", us(s.read_waits().percentile(99)));
        out.num("server_cpu_s", server_cpu_seconds(m0, m1));
        out.num("gen_cpu_s", m1.self - m0.self);
        out.num("gen_cpu_pct", elapsed > 0 ? 100 * (m1.self - m0.self) / elapsed : 0);
        return s.report(out, notes);
    }

private:
    long clients_;
    int senders_;
    double rate_;
    double duration_;
    size_t size_;
    double drain_;
    long concurrency_;
    double timeout_;
};

}  // namespace

std::unique_ptr<Scenario> make_latency(Flags& flags) { return std::make_unique<Latency>(flags); }

}  // namespace bench
