// Churn: clients connect, say a line, hear it back and leave, at a fixed rate; every
// second one leaves by RST instead of FIN. An observer stays in the room and checks
// that it hears each one arrive, speak and leave, in that order (chat), or hears each
// line (Redis). Server memory before, at peak and after: it must come back down.
#include "bench/clock.h"
#include "bench/proc_stats.h"
#include "bench/scenario.h"
#include "bench/session.h"
#include "bench/ticker.h"

#include <unordered_map>

namespace bench {

namespace {

class Churn final : public Scenario {
public:
    explicit Churn(Flags& f)
        : count_(f.integer("count", 1000, 1, 10000000)),
          rate_(f.number("rate", 500, 0.1, 1e6)),
          settle_(f.number("settle", 1, 0, 3600)),
          concurrency_(f.integer("concurrency", 256, 1, 100000)),
          timeout_(f.number("timeout", 120, 0.1, 86400))
    {
    }

    std::string name() const override
    {
        char rate[32];
        snprintf(rate, sizeof rate, "%g", rate_);
        return "churn N=" + std::to_string(count_) + " rate=" + rate + "/s";
    }

    bool run(struct ev_loop* loop, const Target& target, JsonLine& out) override
    {
        bool chat = target.protocol == Protocol::chat;
        Session s(loop, target, 1, 64);
        s.add(true);  // the observer
        std::vector<std::string> notes;
        long started = 0, done = 0, failed = 0, in_flight = 0, resets = 0;
        std::vector<bool> finished{false};  // by peer index: heard its own line and left
        // What the observer heard: per ADDR the stage of the current client with it
        // (ports are reused): 0 none, 1 arrived, 2 spoke; and the totals.
        std::unordered_map<std::string, int> stage;
        long arrivals = 0, lines = 0, leaves = 0, order_errors = 0;
        auto error = [&](std::string what) {
            failed++;
            s.fail(std::move(what));
        };
        s.on_joined = [&](Peer& p) {
            if (p.index > 0)
                s.say(p, format_churn(p.index));
        };
        s.on_other = [&](Peer& p, std::string_view from, std::string_view payload) {
            int id = 0;
            if (!parse_churn(payload, id) || id < 1 || id > started) {
                error("peer " + std::to_string(p.index) + " heard an unexpected line");
                return;
            }
            if (p.index == 0) {
                lines++;
                if (chat && from != s.peer(id).name())
                    error("the observer heard client " + std::to_string(id) + " as " + std::string(from));
                if (chat) {
                    int& st = stage[std::string(from)];
                    if (st != 1)
                        order_errors++;
                    st = 2;
                }
            } else if (p.index == id) {
                // Its own line came back: it was said to everyone. Leave.
                bool reset = id % 2 == 1;
                resets += reset;
                p.close(reset);
                finished[id] = true;
                done++;
                in_flight--;
            }
        };
        s.on_presence = [&](Peer& p, Presence kind, std::string_view addr) {
            if (p.index != 0)
                return;
            int& st = stage[std::string(addr)];
            if (kind == Presence::arrived) {
                arrivals++;
                if (st != 0)
                    order_errors++;
                st = 1;
            } else {
                leaves++;
                if (st != 2)
                    order_errors++;
                st = 0;
            }
        };
        s.on_closed = [&](Peer& p, const char* why) {
            if (p.index == 0) {
                error(std::string("the observer was disconnected: ") + why);
            } else if (!finished[p.index]) {
                error("client " + std::to_string(p.index) + " ended early: " + why);
                in_flight--;
            }
        };

        long rss0 = -1, rss_peak = -1, rss1 = -1;
        double start_s = 0, churn_s = 0;
        CpuMark m0, m1;
        if (s.join(1, timeout_) && s.sync(timeout_)) {
            rss0 = rss_peak = server_rss_kib(target.pids);
            m0 = cpu_mark(target.pids);
            uint64_t t0 = now_ns(), last_start = t0;
            RssPeak sampler(loop, 0.05, target.pids, rss_peak);
            {
                Ticker starter(loop, 0.001, [&] {
                    long due = std::min(count_, static_cast<long>(seconds(now_ns() - t0) * rate_) + 1);
                    while (started < due && in_flight < concurrency_) {
                        Peer& p = s.add(true);
                        finished.push_back(false);
                        started++;
                        in_flight++;
                        last_start = now_ns();
                        if (!s.start(p)) {
                            failed++;
                            in_flight--;
                        }
                    }
                });
                if (!s.run([&] { return done + failed >= count_; }, timeout_))
                    notes.push_back("timeout: " + std::to_string(done) + " of " + std::to_string(count_) + " done");
            }
            start_s = seconds(last_start - t0);
            churn_s = seconds(now_ns() - t0);
            // The observer hears the last leaves a little later.
            s.run([&] { return lines >= done && (!chat || (arrivals >= done && leaves >= done)); }, 5);
            s.run([] { return false; }, settle_);
            m1 = cpu_mark(target.pids);
            rss1 = server_rss_kib(target.pids);
        } else {
            notes.push_back("setup failed");
        }
        long missing = (done - lines) + (chat ? (done - arrivals) + (done - leaves) : 0);
        if (failed > 0)
            notes.push_back("errors " + std::to_string(failed));
        if (missing > 0)
            notes.push_back("observer missed " + std::to_string(missing) + " events");
        if (order_errors > 0)
            notes.push_back("observer heard " + std::to_string(order_errors) + " events out of order");
        out.num("count", count_);
        out.num("rate", rate_);
        out.num("achieved_rate", start_s > 0 ? (started - 1) / start_s : 0);
        out.num("churn_s", churn_s);
        out.num("done", done);
        out.num("resets", resets);
        out.num("errors", failed);
        out.num("observer_missing", missing);
        out.num("observer_misordered", order_errors);
        out.num("rss_before_kib", rss0);
        out.num("rss_peak_kib", rss_peak);
        out.num("rss_after_kib", rss1);
        out.num("rss_growth_kib", rss0 >= 0 && rss1 >= 0 ? rss1 - rss0 : 0);
        out.num("server_cpu_s", server_cpu_seconds(m0, m1));
        out.num("gen_cpu_s", m1.self - m0.self);
        return s.report(out, notes);
    }

private:
    long count_;
    double rate_;
    double settle_;
    long concurrency_;
    double timeout_;
};

}  // namespace

std::unique_ptr<Scenario> make_churn(Flags& flags) { return std::make_unique<Churn>(flags); }

}  // namespace bench
