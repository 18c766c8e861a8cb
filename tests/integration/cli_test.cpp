// The command line, the configuration file, several listeners, and shutdown by signal.
#include "harness.h"

#include <doctest/doctest.h>

#include <csignal>
#include <string>
#include <vector>

using namespace itest;

namespace {

// True if some line of `text` starts with "PATH:LINE:COL: " (LINE == 0: any line number).
bool has_location(const std::string& text, const std::string& path, int line)
{
    size_t pos = 0;
    while (pos < text.size()) {
        size_t eol = text.find('\n', pos);
        std::string l = text.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
        pos = eol == std::string::npos ? text.size() : eol + 1;
        if (l.compare(0, path.size() + 1, path + ":") != 0)
            continue;
        size_t i = path.size() + 1;
        auto number = [&](int& value) {
            size_t start = i;
            value = 0;
            while (i < l.size() && isdigit(static_cast<unsigned char>(l[i])))
                value = value * 10 + (l[i++] - '0');
            return i > start;
        };
        int ln = 0, col = 0;
        if (!number(ln) || i >= l.size() || l[i++] != ':' || !number(col))
            continue;
        if (l.compare(i, 2, ": ") != 0 || col < 1)
            continue;
        if (line == 0 || ln == line)
            return true;
    }
    return false;
}

struct BadConfig {
    const char* what;
    const char* toml;
    int line; // where the error is, 0 if more than one line could be blamed
};

const BadConfig bad_configs[] = {
    {"unknown key", "[client]\nmax_line_bytes = 100\nbogus_key = 1\n", 3},
    {"unknown table", "[server]\nbacklog = 10\n[nonsense]\nx = 1\n", 0},
    {"wrong type: bool for a size", "[client]\nmax_line_bytes = true\n", 2},
    {"wrong type: string for a time", "[server]\nshutdown_grace = \"soon\"\n", 2},
    {"wrong type: number for a policy", "[client]\nslow_policy = 3\n", 2},
    {"out of range: max_line_bytes = 0", "[client]\nmax_line_bytes = 0\n", 2},
    {"out of range: backlog = 0", "\n[server]\nbacklog = 0\n", 3},
    {"out of range: negative time", "[client]\ndrain_timeout = -1.0\n", 2},
    {"bad size unit", "[client]\noutput_hard_limit = \"12 parsecs\"\n", 2},
    {"bad enum", "[client]\nslow_policy = \"explode\"\n", 2},
    {"bad log level", "[log]\nlevel = \"loud\"\n", 2},
    {"hard limit below soft limit", "[client]\noutput_soft_limit = \"2MiB\"\noutput_hard_limit = \"1MiB\"\n", 0},
    {"malformed TOML: unclosed table header", "[client\nmax_line_bytes = 100\n", 1},
    {"malformed TOML: missing value", "[client]\nmax_line_bytes =\n", 2},
    {"malformed TOML: duplicate key", "[client]\nmax_line_bytes = 100\nmax_line_bytes = 200\n", 3},
};

} // namespace

TEST_CASE("config errors: exit status 2 and FILE:LINE:COL: in the message")
{
    for (const BadConfig& bad : bad_configs) {
        CAPTURE(bad.what);
        TempFile f(bad.toml);
        {
            RunResult r = run({evchat_bin(), "--config", f.path(), "--check-config"});
            CAPTURE(r.err);
            CHECK(r.status == 2);
            CHECK(has_location(r.err, f.path(), bad.line));
        }
        {
            // Without --check-config: the same error, and it never listens.
            RunResult r = run({evchat_bin(), "--config", f.path(), "--listen", "127.0.0.1:0"});
            CAPTURE(r.err);
            CHECK(r.status == 2);
            CHECK(has_location(r.err, f.path(), bad.line));
            CHECK(r.err.find("listening on") == std::string::npos);
        }
    }
}

TEST_CASE("config: a missing config file is an error (exit 2)")
{
    std::string path = "/nonexistent-evchat-itest-dir/evchat.toml";
    RunResult r = run({evchat_bin(), "--config", path, "--check-config"});
    CAPTURE(r.err);
    CHECK(r.status == 2);
    CHECK(r.err.find(path) != std::string::npos);
}

TEST_CASE("config: every key with valid non-default values passes --check-config")
{
    TempFile f("[server]\n"
               "listen = [\"127.0.0.1:0\", \"[::1]:0\"]\n"
               "backlog = 64\n"
               "shutdown_grace = 2\n"
               "[client]\n"
               "max_line_bytes = \"4KiB\"\n"
               "output_soft_limit = 65536\n"
               "output_soft_seconds = 0.5\n"
               "output_hard_limit = \"1MiB\"\n"
               "slow_policy = \"drop\"\n"
               "drain_timeout = 1.5\n"
               "[log]\n"
               "level = \"debug\"\n");
    RunResult r = run({evchat_bin(), "--config", f.path(), "--check-config"});
    CAPTURE(r.err);
    CHECK(r.status == 0);
    CHECK(r.err.find("listening on") == std::string::npos); // checks only, does not listen
}

TEST_CASE("--check-config accepts conf/evchat.toml")
{
    std::string conf = repo_file("conf/evchat.toml");
    REQUIRE_MESSAGE(conf != "", "conf/evchat.toml not found from the current directory or EVCHAT_BIN");
    RunResult r = run({evchat_bin(), "--config", conf, "--check-config"});
    CAPTURE(r.err);
    CHECK(r.status == 0);
}

TEST_CASE("--print-default-config prints conf/evchat.toml, which passes --check-config")
{
    RunResult r = run({evchat_bin(), "--print-default-config"});
    CHECK(r.status == 0);
    REQUIRE(r.out != "");
    std::string conf = repo_file("conf/evchat.toml");
    if (conf != "")
        CHECK(r.out == read_file(conf));
    TempFile f(r.out);
    RunResult check = run({evchat_bin(), "--config", f.path(), "--check-config"});
    CAPTURE(check.err);
    CHECK(check.status == 0);
}

TEST_CASE("--version and --help exit 0; an unknown option exits 2")
{
    RunResult v = run({evchat_bin(), "--version"});
    CHECK(v.status == 0);
    CHECK(v.out.find("evchat") != std::string::npos);
    RunResult h = run({evchat_bin(), "--help"});
    CHECK(h.status == 0);
    CHECK(h.out.find("--listen") != std::string::npos);
    CHECK(h.out.find("--config") != std::string::npos);
    RunResult bad = run({evchat_bin(), "--no-such-option"});
    CHECK(bad.status == 2);
    CHECK(bad.err != "");
}

TEST_CASE("--listen replaces the config file's listen list")
{
    // 192.0.2.1 (TEST-NET-1) is not an address of this host: listening there fails.
    TempFile f("[server]\nlisten = [\"192.0.2.1:0\"]\n");
    RunResult r = run({evchat_bin(), "--config", f.path()});
    CAPTURE(r.err);
    CHECK(r.status == 1); // cannot listen
    ServerOptions opts;
    opts.config = "[server]\nlisten = [\"192.0.2.1:0\"]\n";
    opts.listen = {"127.0.0.1:0"};
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    CHECK(srv->endpoints.size() == 1);
    CHECK(srv->endpoints.at(0).host == "127.0.0.1");
    Room room("127.0.0.1", srv->port());
    room.join();
    stop_evchat(*srv);
}

TEST_CASE("several --listen addresses serve one room")
{
    bool v6 = have_ipv6_loopback();
    ServerOptions opts;
    opts.listen = {"127.0.0.1:0", "127.0.0.1:0"};
    if (v6)
        opts.listen.push_back("[::1]:0");
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    REQUIRE(srv->endpoints.size() == opts.listen.size());
    CHECK(srv->port(0) != srv->port(1));
    std::vector<std::unique_ptr<Conn>> cs;
    for (size_t i = 0; i < srv->endpoints.size(); i++) {
        std::string host = i == 2 ? "::1" : "127.0.0.1";
        auto c = Conn::connect(host, srv->port(i));
        REQUIRE_MESSAGE(c, "connect to listener " << i);
        CHECK(c->read_line() == "You are " + c->addr());
        for (auto& earlier : cs)
            CHECK(earlier->read_line() == c->addr() + " has arrived");
        cs.push_back(std::move(c));
    }
    for (auto& sender : cs) {
        REQUIRE(sender->send_all("one room\n"));
        for (auto& c : cs)
            CHECK(c->read_line() == sender->addr() + ": one room");
    }
    stop_evchat(*srv);
}

TEST_CASE("SIGTERM: output queued for a client that has not read is delivered, then exit 0")
{
    ServerOptions opts;
    opts.config = "[server]\nshutdown_grace = 30.0\n[client]\noutput_hard_limit = \"64MiB\"\n";
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& S = room.join(4096); // reads only after the signal
    Conn& P = room.join();
    const int n = 60000; // ~6 MB for S: more than the kernel's socket buffers hold
    std::string pad(80, '.');
    std::string text;
    for (int i = 0; i < n; i++)
        text += std::to_string(i) + pad + "\n";
    // P sends and reads its own lines: once it has them all, the server has processed all.
    size_t seq = 0;
    size_t echoed = send_and_hear(P, text, n, 6 * kTimeout, [&](const std::string& line) {
        CHECK(line == P.addr() + ": " + std::to_string(seq++) + pad);
    });
    REQUIRE(echoed == static_cast<size_t>(n));

    srv->signal(SIGTERM);
    for (int i = 0; i < n; i++)
        REQUIRE(S.read_line() == P.addr() + ": " + std::to_string(i) + pad);
    CHECK(S.read_line() == kEof);
    CHECK(P.read_line() == kEof);
    CHECK(srv->wait_exit(3 * kTimeout));
    CHECK(srv->exit_status() == 0);
}

TEST_CASE("SIGINT: clients get EOF, exit 0")
{
    auto srv = start_evchat();
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& A = room.join();
    Conn& B = room.join();
    srv->signal(SIGINT);
    CHECK(A.read_line() == kEof);
    CHECK(B.read_line() == kEof);
    CHECK(srv->wait_exit(3 * kTimeout));
    CHECK(srv->exit_status() == 0);
    // Nobody listens any more.
    CHECK_FALSE(Conn::connect("127.0.0.1", srv->port(), 0, 2.0));
}

TEST_CASE("SIGTERM: shutdown_grace bounds the wait for a client that never reads")
{
    ServerOptions opts;
    opts.config = "[server]\nshutdown_grace = 1.0\n"
                  "[client]\noutput_hard_limit = \"64MiB\"\noutput_soft_seconds = 600.0\n"
                  "drain_timeout = 600.0\n";
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& S = room.join(4096); // never reads
    Conn& P = room.join();
    std::string pad(80, '.');
    std::string text;
    for (int i = 0; i < 60000; i++)
        text += std::to_string(i) + pad + "\n";
    // P sends everything and reads its echoes so that S's backlog builds up.
    size_t got = send_and_hear(P, text, 60000);
    REQUIRE(got == 60000);
    srv->signal(SIGTERM);
    // Well under the 600 s drain timeout: the 1 s grace ends it.
    CHECK(srv->wait_exit(2 * kTimeout));
    CHECK(srv->exit_status() == 0);
    bool ended = false;
    S.read_until_eof(2 * kTimeout, &ended);
    CHECK(ended);
}

TEST_CASE("SIGHUP during the shutdown grace is refused: no listener comes back, no newcomer gets in")
{
    ServerOptions opts;
    opts.config = "[server]\nshutdown_grace = 30.0\n[client]\noutput_hard_limit = \"64MiB\"\n";
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    uint16_t port = srv->port();
    Room room("127.0.0.1", port);
    Conn& S = room.join(4096); // holds the server in its grace until it reads
    Conn& P = room.join();
    std::string text;
    for (int i = 0; i < 60000; i++)
        text += numbered(i, 80) + "\n";
    REQUIRE(send_and_hear(P, text, 60000) == 60000);

    srv->signal(SIGTERM);
    REQUIRE(srv->wait_output("shutting down"));
    srv->signal(SIGHUP);
    CHECK(srv->wait_output("reload failed, keeping the running config: shutting down"));
    CHECK(count_of(srv->output(), "listening on ") == 1);
    CHECK_FALSE(Conn::connect("127.0.0.1", port, 0, 1.0));
    bool ended = false;
    S.read_until_eof(3 * kTimeout, &ended);  // reading lets the server finish
    CHECK(ended);
    CHECK(srv->wait_exit(2 * kTimeout));
    CHECK(srv->exit_status() == 0);
}
