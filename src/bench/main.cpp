// evchat-bench: the load generator for evchat, the Go book's chat server and Redis
// pub/sub — command line, target, scenario dispatch, and the `report` subcommand.
// One run is one scenario against one server; it prints one JSON line of results and
// exits 0 if every check passed, 1 if one failed, 2 on a bad command line.
#include "address.h"
#include "bench/flags.h"
#include "bench/proc_stats.h"
#include "bench/report.h"
#include "bench/scenario.h"
#include "tls_client.h"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>
#include <netinet/in.h>

using namespace bench;

namespace {

const char usage_text[] = R"(usage: evchat-bench SCENARIO --addr 127.0.0.1:PORT [options]
       evchat-bench report RESULTS.jsonl [--out DIR] [--machine TEXT]

Runs one scenario against one server on the loopback and prints one JSON line of
results. Exit status: 0 all checks passed, 1 a check failed, 2 bad command line.

Target:
  --addr HOST:PORT[,HOST:PORT...]  the server (loopback only: 127.0.0.1, localhost,
                     [::1]); several: the nodes of a cluster, peers spread over them
  --server chat|redis  protocol: the chat server (evchat, Go) or Redis pub/sub [chat]
  --websocket        chat over WebSocket: every client upgrades with GET /ws (Host,
                     a matching Origin, version 13), says each line as one masked
                     text frame and hears each line as one text message; --addr is
                     then the server's WebSocket address (evchat's [websocket] listen)
  --tls              every connection speaks TLS (1.2 or later) to a TLS address:
                     evchat's [tls] listen (with --websocket: wss), Redis's
                     --tls-port. No certificate is checked: the load stays on this
                     machine. Arrival times are still the kernel's.
  --pid PID[,PID...] the server's processes (a cluster's nodes and its Redis), for
                     their CPU time and memory, added up
  --label NAME       server name written in the results [chat or redis]
  --rep N            repetition number written in the results [1]

Scenarios and their flags [defaults]:
  fanout   --clients 100 --senders 10 --lines 1000 --size 64 --window 64
           Senders send their lines with at most --window of their own unanswered.
           Deliveries/s, lines in/s, deliveries per server CPU-second.
  latency  --clients 100 --senders 10 --rate 1000 --duration 5 --size 64 --drain 5
           Senders send --rate lines/s in total for --duration s. One-way latency
           percentiles, lines not delivered, the generator's own send lag.
  conns    --conns 10000 --concurrency 256
           Idle members: server RSS per connection, time until all are members,
           then one line's broadcast to all. Capped by the open-file limit.
  slow     --clients 10 --senders 5 --lines 50000 --size 64 --window 64
           --rcvbuf 4096 --stall 3
           One more client stops reading. Whether the others get every line, how
           fast, and what the server does to the slow one.
  churn    --count 1000 --rate 500 --settle 1
           Clients connect, say a line, hear it back and leave at --rate per second,
           every second one by RST. Errors, server RSS before, at peak and after.
  soak     --clients 5000 --senders 50 --rate 100 --size 64 --duration 600
           --churn 10 --slow 20 --rcvbuf 4096 --slow-life 60 --settle 10
           --drain 60 --progress 30
           Healthy members chat at --rate lines/s in total for --duration s while
           churners (--churn/s) come and go, half by RST, and --slow readers at a
           time stall until put out (or for --slow-life s). Healthy members must
           hear every line; server RSS after must be near its baseline with them
           connected. Needs the server's idle timeout off (or over --duration).
Every scenario also takes --timeout SEC (each phase) and, where it connects many
clients, --concurrency N (joins in flight).

Every line heard is checked: each sender's lines arrive once, in order, under its
ADDR, in the same global order at every receiver. Any lost, duplicated or misordered
line, wrong prefix or unexpected line fails the run.

report: reads the JSON lines of several runs, prints a Markdown table of medians
per server and their ratios, and writes table.md and gnuplot data into --out.
)";

int usage_error(const std::string& what)
{
    fprintf(stderr, "evchat-bench: %s\n(evchat-bench --help for usage)\n", what.c_str());
    return 2;
}

bool is_loopback(const sockaddr_storage& ss)
{
    if (ss.ss_family == AF_INET)
        return (ntohl(reinterpret_cast<const sockaddr_in&>(ss).sin_addr.s_addr) >> 24) == 127;
    if (ss.ss_family == AF_INET6) {
        const in6_addr& a = reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(&a) || (IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127);
    }
    return false;
}

// "a,b,c" as its items; "" as none.
std::vector<std::string> split_list(const std::string& text)
{
    std::vector<std::string> items;
    for (size_t start = 0; start < text.size();) {
        size_t comma = std::min(text.find(',', start), text.size());
        items.push_back(text.substr(start, comma - start));
        start = comma + 1;
    }
    return items;
}

std::unique_ptr<Scenario> make_scenario(const std::string& name, Flags& flags)
{
    if (name == "fanout")
        return make_fanout(flags);
    if (name == "latency")
        return make_latency(flags);
    if (name == "conns")
        return make_conns(flags);
    if (name == "slow")
        return make_slow(flags);
    if (name == "churn")
        return make_churn(flags);
    if (name == "soak")
        return make_soak(flags);
    return nullptr;
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc < 2)
        return usage_error("no scenario");
    std::string command = argv[1];
    if (command == "--help" || command == "-h" || command == "help") {
        fputs(usage_text, stdout);
        return 0;
    }
    if (command == "report")
        return run_report(argc, argv);

    Flags flags;
    std::string err;
    if (!flags.parse(argc, argv, 2, err))
        return usage_error(err);
    Target target;
    std::string server = flags.text("server", "chat");
    if (server == "chat")
        target.protocol = Protocol::chat;
    else if (server == "redis")
        target.protocol = Protocol::redis;
    else
        return usage_error("--server must be chat or redis");
    target.websocket = flags.on("websocket");
    if (target.websocket && target.protocol != Protocol::chat)
        return usage_error("--websocket is for --server chat");
    // One context for every connection; no certificate is checked (see the usage).
    std::unique_ptr<TlsClient> tls;
    if (flags.on("tls")) {
        tls = std::make_unique<TlsClient>(false);
        if (!tls->ok()) {
            fprintf(stderr, "evchat-bench: %s\n", tls->error().c_str());
            return 1;
        }
        target.tls = tls.get();
    }
    std::string addrs = flags.text("addr", "");
    if (addrs.empty())
        return usage_error("--addr HOST:PORT is required");
    for (const std::string& addr : split_list(addrs)) {
        ListenAddress la;
        if (!parse_listen_address(addr, la, err))
            return usage_error("--addr: " + err);
        if (!is_loopback(la.addr))
            return usage_error("--addr must be a loopback address: the load stays on this machine");
        target.nodes.push_back({la.addr, la.len});
    }
    for (const std::string& pid : split_list(flags.text("pid", ""))) {
        char* end = nullptr;
        long n = strtol(pid.c_str(), &end, 10);
        if (pid.empty() || *end || n <= 0 || n > (1 << 30))
            return usage_error("--pid wants process ids, comma-separated");
        target.pids.push_back(static_cast<int>(n));
    }
    std::string label = flags.text("label", server);
    long rep = flags.integer("rep", 1, 0, 1000000);
    std::unique_ptr<Scenario> scenario = make_scenario(command, flags);
    if (!scenario)
        return usage_error("unknown scenario '" + command + "'");
    if (!(err = flags.error()).empty())
        return usage_error(err);

    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit_to_hard();
    struct ev_loop* loop = ev_default_loop(EVFLAG_AUTO);
    JsonLine out;
    out.str("scenario", command);
    out.str("case", scenario->name());
    out.str("server", label);
    out.str("protocol", server);
    out.str("transport", std::string(target.websocket ? "websocket" : "tcp") + (tls ? "+tls" : ""));
    out.num("rep", static_cast<double>(rep));
    bool ok = scenario->run(loop, target, out);
    printf("%s\n", out.text().c_str());
    fflush(stdout);
    return ok ? 0 : 1;
}
