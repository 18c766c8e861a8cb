// evchat: the command line, signals, and the wiring of config, log and server on one loop.
#include "address.h"
#include "config.h"
#include "probe.h"
#include "log.h"
#include "notify.h"
#include "server.h"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <ev.h>
#include <string>
#include <sys/resource.h>

#ifndef EVCHAT_VERSION
#define EVCHAT_VERSION "1.0.0"
#endif

namespace {

const char usage[] =
    "usage: evchat [--config FILE] [--listen HOST:PORT]... [--check-config]\n"
    "              [--print-default-config] [--healthcheck HOST:PORT] [--stats HOST:PORT]\n"
    "              [--version] [--help]\n"
    "\n"
    "A broadcast chat server: every line a client sends goes to every client as\n"
    "\"ADDR: text\". Connect with `nc localhost 8000`.\n"
    "\n"
    "  --config FILE           read settings from FILE (TOML); without it, the defaults\n"
    "  --listen HOST:PORT      listen here instead of the config's addresses; repeatable\n"
    "  --check-config          validate the configuration and exit (0 valid, 2 invalid)\n"
    "  --print-default-config  print the default configuration file and exit\n"
    "  --healthcheck HOST:PORT connect to a running evchat; exit 0 if it greets, else 1;\n"
    "                          tls://HOST:PORT: over TLS, any certificate accepted;\n"
    "                          tls+verify://HOST:PORT: the certificate checked against\n"
    "                          the system's store (or SSL_CERT_FILE) and HOST\n"
    "  --stats HOST:PORT       print the metrics of a running evchat's admin listener\n"
    "                          ([admin] listen) as a table; exit 0, or 1 if unreachable\n"
    "  --version               print the version and exit\n"
    "  --help                  print this help and exit\n"
    "\n"
    "Signals: SIGTERM or SIGINT stop accepting, flush queued output for up to\n"
    "shutdown_grace seconds, and exit 0; a second one exits at once. SIGHUP re-reads\n"
    "the config file (an invalid one is reported and changes nothing).\n"
    "\n"
    "Environment: EVCHAT_CONFIG=FILE is --config FILE, EVCHAT_LISTEN=ADDR[,ADDR...] is\n"
    "--listen for each ADDR; the command line wins. EVCHAT_IO_URING=auto|off is\n"
    "[server] io_uring, over the file's. NOTIFY_SOCKET (systemd) gets READY=1 once\n"
    "listening and STOPPING=1 at shutdown.\n";

struct Options {
    std::string config_path;
    std::vector<std::string> listen;
    std::string healthcheck;
    std::string stats;
    const char* io_uring = nullptr;  // EVCHAT_IO_URING, if set
    bool check_only = false;
};

// The environment is the command line's default, for containers without a config file.
void read_environment(Options& opt)
{
    if (const char* path = getenv("EVCHAT_CONFIG"))
        opt.config_path = path;
    opt.io_uring = getenv("EVCHAT_IO_URING");
    if (const char* list = getenv("EVCHAT_LISTEN")) {
        std::string_view rest = list;
        while (!rest.empty()) {
            size_t comma = rest.find(',');
            std::string_view one = rest.substr(0, comma);
            if (!one.empty())
                opt.listen.emplace_back(one);
            rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
        }
    }
}

// Returns -1 to go on, or an exit status.
int parse_args(int argc, char** argv, Options& opt)
{
    bool listen_given = false;
    for (int i = 1; i < argc; i++) {
        std::string arg = argv[i];
        auto value = [&](const char* name) -> const char* {
            if (i + 1 >= argc) {
                fprintf(stderr, "evchat: %s needs a value\n%s", name, usage);
                return nullptr;
            }
            return argv[++i];
        };
        if (arg == "--config") {
            const char* v = value("--config");
            if (!v)
                return 2;
            opt.config_path = v;
        } else if (arg == "--listen") {
            const char* v = value("--listen");
            if (!v)
                return 2;
            if (!listen_given)
                opt.listen.clear();
            listen_given = true;
            opt.listen.push_back(v);
        } else if (arg == "--healthcheck") {
            const char* v = value("--healthcheck");
            if (!v)
                return 2;
            opt.healthcheck = v;
        } else if (arg == "--stats") {
            const char* v = value("--stats");
            if (!v)
                return 2;
            opt.stats = v;
        } else if (arg == "--check-config") {
            opt.check_only = true;
        } else if (arg == "--print-default-config") {
            std::string_view text = default_config_text();
            fwrite(text.data(), 1, text.size(), stdout);
            return 0;
        } else if (arg == "--version") {
            printf("evchat %s\n", EVCHAT_VERSION);
            return 0;
        } else if (arg == "--help" || arg == "-h") {
            fputs(usage, stdout);
            return 0;
        } else {
            fprintf(stderr, "evchat: unknown argument \"%s\"\n%s", arg.c_str(), usage);
            return 2;
        }
    }
    return -1;
}

void notify(Log& log, const char* state)
{
    const char* err = nullptr;
    if (!notify_systemd(state, &err))
        log.write(LogLevel::warn, "NOTIFY_SOCKET: %s: %s", state, err);
}

// The config in force: the file (if any), then the command line's --listen and
// EVCHAT_IO_URING.
std::string load_effective(const Options& opt, Config& out)
{
    Config config;
    if (!opt.config_path.empty()) {
        std::string err = load_config(opt.config_path, config);
        if (!err.empty())
            return err;
    }
    if (!opt.listen.empty()) {
        for (const std::string& text : opt.listen) {
            ListenAddress where;
            std::string err;
            if (!parse_listen_address(text, where, err))
                return "--listen: " + err;
        }
        config.server.listen = opt.listen;
    }
    if (opt.io_uring) {
        std::string_view v = opt.io_uring;
        if (v != "auto" && v != "off")
            return "EVCHAT_IO_URING: expected \"auto\" or \"off\", got \"" + std::string(v) + "\"";
        config.server.io_uring = v == "auto" ? IoUring::automatic : IoUring::off;
    }
    out = std::move(config);
    return "";
}

// Each client takes one descriptor: raise the soft limit toward max_clients, as far as
// the hard limit allows, and say so if that is not far enough.
void raise_fd_limit(Log& log, size_t max_clients)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t want = static_cast<rlim_t>(max_clients) + 32;  // listeners, loop, stdio
    if (rl.rlim_cur < want && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = std::min(want, rl.rlim_max);
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < want)
        log.write(LogLevel::warn,
                  "open-file limit %llu is below max_clients + 32 (%llu): connections over it "
                  "wait in the listen backlog",
                  static_cast<unsigned long long>(rl.rlim_cur), static_cast<unsigned long long>(want));
}

struct Signals {
    Server& server;
    Log& log;
    const Options& opt;
};

void on_stop_signal(struct ev_loop*, ev_signal* w, int)
{
    auto* s = static_cast<Signals*>(w->data);
    notify(s->log, "STOPPING=1");
    s->server.shutdown();
}

// SIGHUP: re-read the file; a bad file is reported and changes nothing.
void on_reload_signal(struct ev_loop*, ev_signal* w, int)
{
    auto* s = static_cast<Signals*>(w->data);
    if (s->opt.config_path.empty()) {
        s->log.write(LogLevel::warn, "SIGHUP: no config file to reload (started without --config)");
        return;
    }
    notify(s->log, "RELOADING=1");
    Config next;
    std::string err = load_effective(s->opt, next);
    if (err.empty() && s->server.reconfigure(next, err)) {
        s->log.set_level(next.log.level);
        s->log.set_format(next.log.format);
        s->log.write(LogLevel::info, "reloaded %s", s->opt.config_path.c_str());
        s->server.stats().reloads_ok++;
    } else {
        s->log.write(LogLevel::error, "reload failed, keeping the running config: %s", err.c_str());
        s->server.stats().reloads_failed++;
    }
    notify(s->log, "READY=1");
}

// Runs the server on its own loop until a stop signal has been handled.
int serve(const Options& opt, const Config& config)
{
    // A peer that vanished must show up as EPIPE from writev, not kill the process.
    signal(SIGPIPE, SIG_IGN);
    Log log(config.log.level);
    log.set_format(config.log.format);
    raise_fd_limit(log, config.server.max_clients);
    // Not the default loop: that one reaps every child (SIGCHLD), and evchat, which may
    // run as a container's PID 1, must reap nothing it did not start.
    struct ev_loop* loop = ev_loop_new(EVFLAG_AUTO);
    if (!loop) {
        log.write(LogLevel::error, "cannot initialise libev (bad LIBEV_FLAGS?)");
        return 1;
    }
    int status = 0;
    {
        Server server(loop, config, log);
        // Handlers first: a signal sent as soon as "listening on" is logged must not find
        // the default action (termination) still in place.
        Signals signals{server, log, opt};
        ev_signal sigterm, sigint, sighup;
        ev_signal_init(&sigterm, on_stop_signal, SIGTERM);
        ev_signal_init(&sigint, on_stop_signal, SIGINT);
        ev_signal_init(&sighup, on_reload_signal, SIGHUP);
        for (ev_signal* sig : {&sigterm, &sigint, &sighup}) {
            sig->data = &signals;
            ev_signal_start(loop, sig);
        }
        std::string err;
        if (server.listen(err)) {
            log.write(LogLevel::info,
                      "evchat %s: max_clients %zu, max_line_bytes %zu, output soft/hard limit "
                      "%zu/%zu bytes, soft seconds %g, slow policy %s, idle timeout %g s",
                      EVCHAT_VERSION, config.server.max_clients, config.client.max_line_bytes,
                      config.client.output_soft_limit, config.client.output_hard_limit,
                      config.client.output_soft_seconds, slow_policy_name(config.client.slow_policy),
                      config.client.idle_timeout);
            notify(log, "READY=1");
            ev_run(loop, 0);
            if (server.fenced())
                status = 1;
            log.write(LogLevel::info, "exiting");
        } else {
            log.write(LogLevel::error, "%s", err.c_str());
            status = 1;
        }
        for (ev_signal* sig : {&sigterm, &sigint, &sighup})
            ev_signal_stop(loop, sig);
    }
    ev_loop_destroy(loop);
    return status;
}

}  // namespace

int main(int argc, char** argv)
{
    Options opt;
    read_environment(opt);
    int status = parse_args(argc, argv, opt);
    if (status >= 0)
        return status;
    if (!opt.healthcheck.empty()) {
        std::string message;
        status = run_healthcheck(opt.healthcheck, 3.0, message);
        fprintf(status ? stderr : stdout, "%s\n", message.c_str());
        return status;
    }
    if (!opt.stats.empty()) {
        std::string table, message;
        status = run_stats(opt.stats, 3.0, table, message);
        if (status)
            fprintf(stderr, "evchat: %s\n", message.c_str());
        fputs(table.c_str(), stdout);
        return status;
    }

    Config config;
    std::string err = load_effective(opt, config);
    if (!err.empty()) {
        fprintf(stderr, "%s\n", err.c_str());
        return 2;
    }
    if (opt.check_only) {
        printf("%s: ok\n", opt.config_path.empty() ? "defaults" : opt.config_path.c_str());
        return 0;
    }
    return serve(opt, config);
}
