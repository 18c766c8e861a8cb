// Conns: N idle members. Server memory per connection (VmRSS growth / N), time until
// every one is in the room, then the time one line takes to reach all N. In the chat
// protocol each join is announced to everyone already in, so joining N is N²/2 lines.
#include "bench/clock.h"
#include "bench/proc_stats.h"
#include "bench/scenario.h"
#include "bench/session.h"

namespace bench {

namespace {

class Conns final : public Scenario {
public:
    explicit Conns(Flags& f)
        : conns_(f.integer("conns", 10000, 1, 1000000)),
          size_(f.integer("size", 64, 1, 60000)),
          concurrency_(f.integer("concurrency", 256, 1, 100000)),
          timeout_(f.number("timeout", 300, 0.1, 86400))
    {
    }

    std::string name() const override { return "conns N=" + std::to_string(conns_); }

    bool run(struct ev_loop* loop, const Target& target, JsonLine& out) override
    {
        std::vector<std::string> notes;
        // Keep some descriptors for the rest of the process (and Redis's publisher).
        long n = std::min(conns_, raise_fd_limit_to_hard() - 32);
        if (n < conns_)
            notes.push_back("only " + std::to_string(n) + " connections: the open-file limit");
        Session s(loop, target, 1, size_);
        for (long i = 0; i < n; i++)
            s.add(i == 0);
        long rss0 = server_rss_kib(target.pids), rss1 = -1;
        double connected = -1, members = -1, broadcast = -1;
        CpuMark m0 = cpu_mark(target.pids), m1 = m0;
        uint64_t t0 = now_ns();
        if (s.join(concurrency_, timeout_)) {
            connected = seconds(s.last_join_ns() - t0);
            if (s.sync(timeout_)) {
                members = seconds(s.last_sync_ns() - t0);
                m1 = cpu_mark(target.pids);
                rss1 = server_rss_kib(target.pids);
                uint64_t tb = now_ns();
                s.send_data(0, tb);
                if (s.run([&] { return s.delivered() >= static_cast<uint64_t>(n); }, timeout_))
                    broadcast = seconds(s.last_delivery_ns() - tb);
                else
                    notes.push_back("timeout on the broadcast");
            }
        }
        if (members < 0)
            notes.push_back("setup failed");
        out.num("conns", static_cast<double>(n));
        out.num("connected_s", connected);
        out.num("members_s", members);
        out.num("joins_per_s", members > 0 ? n / members : 0);
        out.num("broadcast_ms", broadcast >= 0 ? broadcast * 1000 : -1);
        out.num("rss_before_kib", static_cast<double>(rss0));
        out.num("rss_members_kib", static_cast<double>(rss1));
        out.num("rss_per_conn_bytes", rss0 >= 0 && rss1 >= 0 ? (rss1 - rss0) * 1024.0 / n : -1);
        out.num("server_cpu_s", server_cpu_seconds(m0, m1));
        out.num("gen_cpu_s", m1.self - m0.self);
        return s.report(out, notes);
    }

private:
    long conns_;
    size_t size_;
    long concurrency_;
    double timeout_;
};

}  // namespace

std::unique_ptr<Scenario> make_conns(Flags& flags) { return std::make_unique<Conns>(flags); }

}  // namespace bench
