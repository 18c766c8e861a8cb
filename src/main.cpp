// evchat: the command line, signals, and the wiring of config, log and server on one loop.
#include "config.h"
#include "log.h"
#include "server.h"

#include <csignal>
#include <cstdio>
#include <cstring>
#include <ev.h>
#include <string>

#ifndef EVCHAT_VERSION
#define EVCHAT_VERSION "1.0.0"
#endif

namespace {

const char usage[] =
    "usage: evchat [--config FILE] [--listen HOST:PORT]... [--check-config]\n"
    "              [--print-default-config] [--version] [--help]\n"
    "\n"
    "A broadcast chat server: every line a client sends goes to every client as\n"
    "\"ADDR: text\". Connect with `nc localhost 8000`.\n"
    "\n"
    "  --config FILE           read settings from FILE (TOML); without it, the defaults\n"
    "  --listen HOST:PORT      listen here instead of the config's addresses; repeatable\n"
    "  --check-config          validate the configuration and exit (0 valid, 2 invalid)\n"
    "  --print-default-config  print the default configuration file and exit\n"
    "  --version               print the version and exit\n"
    "  --help                  print this help and exit\n"
    "\n"
    "Signals: SIGTERM or SIGINT stop accepting, flush queued output for up to\n"
    "shutdown_grace seconds, and exit 0; a second one exits at once.\n";

struct Options {
    std::string config_path;
    std::vector<std::string> listen;
    bool check_only = false;
};

// Returns -1 to go on, or an exit status.
int parse_args(int argc, char** argv, Options& opt)
{
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
            opt.listen.push_back(v);
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

void on_stop_signal(struct ev_loop*, ev_signal* w, int)
{
    static_cast<Server*>(w->data)->shutdown();
}

}  // namespace

int main(int argc, char** argv)
{
    Options opt;
    int status = parse_args(argc, argv, opt);
    if (status >= 0)
        return status;

    Config config;
    if (!opt.config_path.empty()) {
        std::string err = load_config(opt.config_path, config);
        if (!err.empty()) {
            fprintf(stderr, "%s\n", err.c_str());
            return 2;
        }
    }
    if (!opt.listen.empty()) {
        for (const std::string& text : opt.listen) {
            ListenAddress where;
            std::string err;
            if (!parse_listen_address(text, where, err)) {
                fprintf(stderr, "evchat: --listen: %s\n", err.c_str());
                return 2;
            }
        }
        config.listen = opt.listen;
    }
    if (opt.check_only) {
        printf("%s: ok\n", opt.config_path.empty() ? "defaults" : opt.config_path.c_str());
        return 0;
    }

    // A peer that vanished must show up as EPIPE from writev, not kill the process.
    signal(SIGPIPE, SIG_IGN);
    Log log(config.log_level);
    struct ev_loop* loop = ev_default_loop(EVFLAG_AUTO);
    if (!loop) {
        log.write(LogLevel::error, "cannot initialise libev (bad LIBEV_FLAGS?)");
        return 1;
    }
    Server server(loop, config, log);
    std::string err;
    if (!server.listen(err)) {
        log.write(LogLevel::error, "%s", err.c_str());
        return 1;
    }
    ev_signal sigterm, sigint;
    ev_signal_init(&sigterm, on_stop_signal, SIGTERM);
    ev_signal_init(&sigint, on_stop_signal, SIGINT);
    sigterm.data = sigint.data = &server;
    ev_signal_start(loop, &sigterm);
    ev_signal_start(loop, &sigint);
    log.write(LogLevel::info,
              "evchat %s: max_line_bytes %zu, output soft/hard limit %zu/%zu bytes, soft seconds %g, "
              "slow policy %s",
              EVCHAT_VERSION, config.max_line_bytes, config.output_soft_limit,
              config.output_hard_limit, config.output_soft_seconds, slow_policy_name(config.slow_policy));
    ev_run(loop, 0);
    ev_signal_stop(loop, &sigterm);
    ev_signal_stop(loop, &sigint);
    log.write(LogLevel::info, "exiting");
    return 0;
}
