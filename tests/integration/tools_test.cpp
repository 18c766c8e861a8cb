// The programs and interfaces around the server: the evchat-cat client, --healthcheck,
// systemd's NOTIFY_SOCKET, and configuration from the environment (EVCHAT_LISTEN,
// EVCHAT_CONFIG).
//
// The harness strips EVCHAT_* and NOTIFY_SOCKET from children's environments, so the
// tests set them with /usr/bin/env as argv[0] (which execs evchat under the same pid).
#include "harness.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

using namespace itest;

namespace {

const char* const kEnv = "/usr/bin/env";

std::string cat_bin()
{
    const char* env = getenv("EVCHAT_CAT");
    return env && *env ? env : "build/evchat-cat";
}

bool starts_with(const std::string& s, const std::string& prefix)
{
    return s.compare(0, prefix.size(), prefix) == 0;
}

bool contains(const std::string& s, const std::string& what)
{
    return s.find(what) != std::string::npos;
}

std::vector<std::string> lines_of(const std::string& text)
{
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t eol = text.find('\n', pos);
        if (eol == std::string::npos) {
            out.push_back(text.substr(pos) + "<<no newline>>");
            break;
        }
        out.push_back(text.substr(pos, eol - pos));
        pos = eol + 1;
    }
    return out;
}

std::string loopback(uint16_t port)
{
    return "127.0.0.1:" + std::to_string(port);
}

// The receiving end of NOTIFY_SOCKET: an AF_UNIX datagram socket bound to a path, or with
// a name starting with '@', in the abstract namespace.
class NotifySocket {
public:
    explicit NotifySocket(const std::string& name) : name_(name)
    {
        fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        REQUIRE(name.size() < sizeof sa.sun_path);
        memcpy(sa.sun_path, name.data(), name.size());
        if (name[0] == '@')
            sa.sun_path[0] = '\0';
        socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
        REQUIRE_MESSAGE(bind(fd_, reinterpret_cast<sockaddr*>(&sa), len) == 0, "bind: " << strerror(errno));
    }
    ~NotifySocket() { close(fd_); }
    NotifySocket(const NotifySocket&) = delete;
    NotifySocket& operator=(const NotifySocket&) = delete;

    // The next datagram, or kTimedOut.
    std::string receive(double timeout = kTimeout)
    {
        double deadline = now() + timeout;
        for (;;) {
            char buf[4096];
            ssize_t n = recv(fd_, buf, sizeof buf, 0);
            if (n >= 0)
                return std::string(buf, static_cast<size_t>(n));
            double left = deadline - now();
            if (left <= 0)
                return kTimedOut;
            pollfd p{fd_, POLLIN, 0};
            poll(&p, 1, static_cast<int>(left * 1000) + 1);
        }
    }

private:
    std::string name_;
    int fd_ = -1;
};

// evchat with `env` (NAME=VALUE each) added to its environment and `args` after it.
std::unique_ptr<Server> start_with_env(const std::vector<std::string>& env,
                                       const std::vector<std::string>& args, size_t listeners = 1)
{
    std::vector<std::string> argv{kEnv};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.push_back(evchat_bin());
    argv.insert(argv.end(), args.begin(), args.end());
    std::unique_ptr<Server> s(new Server(argv));
    bool ok = s->wait_listening(listeners);
    REQUIRE_MESSAGE(ok, "evchat did not report listening; output:\n" << s->output_tail());
    return s;
}

// Connects and reads the first line; the server's loop is then surely running.
std::string first_line(uint16_t port, const std::string& host = "127.0.0.1")
{
    auto c = Conn::connect(host, port);
    if (!c)
        return std::string("<<connect: ") + strerror(errno) + ">>";
    return c->read_line();
}

// evchat-cat connected to the port, with standard input from `input` (a file or a FIFO).
std::vector<std::string> cat_command(uint16_t port, const std::string& input)
{
    // Single quotes suffice: the binary's and the temporary file's paths hold none.
    return {"/bin/sh", "-c", "exec '" + cat_bin() + "' " + loopback(port) + " < '" + input + "'"};
}

} // namespace

// ---- evchat-cat ----

TEST_CASE("evchat-cat: a piped file reaches the room in order; it prints all, its last echo too")
{
    auto srv = start_evchat();
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& B = room.join();
    std::vector<std::string> sent;
    std::string text;
    for (int i = 0; i < 500; i++) { // several of the client's and the server's reads
        sent.push_back("line " + std::to_string(i) + " " + std::string(static_cast<size_t>(i % 97), 'x'));
        text += sent.back() + "\n";
    }
    sent.push_back("the last line, without a newline");
    text += sent.back();
    TempFile input(text, ".txt");
    RunResult r = run(cat_command(srv->port(), input.path()));
    CAPTURE(r.err);
    CHECK(r.status == 0);
    CHECK(r.err == "");
    std::vector<std::string> out = lines_of(r.out);
    REQUIRE(out.size() >= 1);
    REQUIRE(starts_with(out[0], "You are 127.0.0.1:"));
    const std::string cat_addr = out[0].substr(8);
    std::vector<std::string> expected{"You are " + cat_addr};
    for (auto& s : sent)
        expected.push_back(cat_addr + ": " + s);
    CHECK(out == expected); // every echo, the last one too, and whole lines only

    // The room heard the same lines in order, then the leave.
    CHECK(B.read_line() == cat_addr + " has arrived");
    for (auto& s : sent)
        REQUIRE(B.read_line() == cat_addr + ": " + s);
    CHECK(B.read_line() == cat_addr + " has left");
    stop_evchat(*srv);
}

TEST_CASE("evchat-cat: prints the room's lines while its input is open; exit 0 when the server closes")
{
    auto srv = start_evchat();
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& B = room.join();
    TempDir dir;
    std::string fifo = dir.file("input");
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    Server cat(cat_command(srv->port(), fifo));
    INFO("evchat-cat output: " << cat.output_tail());
    int w = open_fifo_writer(fifo, cat);
    REQUIRE(w >= 0);
    const std::string cat_addr = arrived(B);

    REQUIRE(write(w, "from cat\n", 9) == 9);
    CHECK(B.read_line() == cat_addr + ": from cat");
    REQUIRE(B.send_all("from B\n"));
    CHECK(B.read_line() == B.addr() + ": from B");
    // The client's standard output shows both, while its input is still open.
    const std::string want =
        "You are " + cat_addr + "\n" + cat_addr + ": from cat\n" + B.addr() + ": from B\n";
    double deadline = now() + kTimeout;
    while (cat.output() != want && now() < deadline && cat.running())
        usleep(5000); // polling the client's output file, within a deadline
    CHECK(escape(cat.output()) == escape(want));
    CHECK(cat.running());

    // The server goes away while the client's input is still open: exit 0.
    stop_evchat(*srv);
    REQUIRE(cat.wait_exit());
    CHECK(cat.exit_status() == 0);
    CHECK(escape(cat.output()) == escape(want));
    close(w);
}

TEST_CASE("evchat-cat: exit 1 with a message when nothing listens; 2 for bad usage")
{
    std::string target = loopback(free_port());
    RunResult r = run({cat_bin(), target});
    CAPTURE(r.err);
    CHECK(r.status == 1);
    CHECK(r.out == "");
    CHECK(r.err == "evchat-cat: " + target + ": Connection refused\n");

    for (const std::vector<std::string>& args :
         {std::vector<std::string>{}, {target, target}, {"-v"}, {"--listen", target}}) {
        std::vector<std::string> argv{cat_bin()};
        argv.insert(argv.end(), args.begin(), args.end());
        RunResult u = run(argv);
        CAPTURE(args.size());
        CHECK(u.status == 2);
        CHECK(u.out == "");
        CHECK(starts_with(u.err, "usage: evchat-cat HOST:PORT\n"));
    }
    RunResult h = run({cat_bin(), "--help"});
    CHECK(h.status == 0);
    CHECK(starts_with(h.out, "usage: evchat-cat HOST:PORT\n"));
}

// ---- --healthcheck ----

TEST_CASE("--healthcheck: exit 0 against a running evchat; the room sees the check come and go")
{
    auto srv = start_evchat();
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& A = room.join();
    std::string target = loopback(srv->port());
    RunResult r = run({evchat_bin(), "--healthcheck", target});
    CAPTURE(r.err);
    CHECK(r.status == 0);
    CHECK(r.out == target + ": ok\n");
    std::string arrival = A.read_line();
    REQUIRE(starts_with(arrival, "127.0.0.1:"));
    REQUIRE(arrival.size() > 12);
    const std::string addr = arrival.substr(0, arrival.size() - 12);
    CHECK(arrival == addr + " has arrived");
    CHECK(A.read_line() == addr + " has left");
    stop_evchat(*srv);
}

TEST_CASE("--healthcheck: exit 1 against a closed port and against a listener that never greets")
{
    std::string target = loopback(free_port());
    RunResult r = run({evchat_bin(), "--healthcheck", target});
    CHECK(r.status == 1);
    CHECK(r.out == "");
    CHECK(r.err == target + ": Connection refused\n");

    // A listener that never accepts: the kernel completes the handshake, no greeting comes.
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    REQUIRE(listen(fd, 8) == 0);
    socklen_t len = sizeof sa;
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0);
    target = loopback(ntohs(sa.sin_port));
    double t0 = now();
    r = run({evchat_bin(), "--healthcheck", target});
    double took = now() - t0;
    close(fd);
    CHECK(r.status == 1);
    CHECK(r.err == target + ": no greeting in time\n");
    CHECK(took > 2.5); // its own deadline, 3 s
    CHECK(took < 6.0);

    r = run({evchat_bin(), "--healthcheck", "not an address"});
    CHECK(r.status == 1);
    CHECK(r.err != "");
}

TEST_CASE("--healthcheck: an evchat that asks names ([room] names = true) is healthy")
{
    ServerOptions opts;
    opts.config = "[room]\nnames = true\n";
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    std::string target = loopback(srv->port());
    RunResult r = run({evchat_bin(), "--healthcheck", target});
    CAPTURE(r.err);
    // Its greeting is "Your name?", not "You are ADDR": still a running, healthy evchat.
    CHECK(r.status == 0);
    CHECK(r.out == target + ": ok\n");
    stop_evchat(*srv);
}

// ---- systemd notification ----

TEST_CASE("NOTIFY_SOCKET (a path): READY=1 when listening, RELOADING=1 + READY=1 on SIGHUP, STOPPING=1")
{
    TempDir dir;
    std::string path = dir.file("notify");
    NotifySocket ns(path);
    TempFile config("[log]\nlevel = \"info\"\n");
    Server srv({kEnv, "NOTIFY_SOCKET=" + path, evchat_bin(), "--config", config.path(), "--listen",
                "127.0.0.1:0"});
    INFO("server output: " << srv.output_tail());
    CHECK(ns.receive() == "READY=1");
    // Ready means serving: the address is logged and a client is greeted.
    REQUIRE(srv.wait_listening(1));
    auto c = Conn::connect("127.0.0.1", srv.port());
    REQUIRE(c);
    CHECK(c->read_line() == "You are " + c->addr());

    srv.signal(SIGHUP);
    CHECK(ns.receive() == "RELOADING=1");
    CHECK(ns.receive() == "READY=1");
    stop_evchat(srv);
    CHECK(ns.receive() == "STOPPING=1");
    CHECK(ns.receive(0.0) == kTimedOut); // nothing more was sent
}

TEST_CASE("NOTIFY_SOCKET (abstract, @NAME): READY=1 and STOPPING=1")
{
    std::string name = "@evchat-itest-" + std::to_string(getpid()) + "-" +
                       std::to_string(static_cast<long long>(now() * 1e9));
    NotifySocket ns(name);
    Server srv({kEnv, "NOTIFY_SOCKET=" + name, evchat_bin(), "--listen", "127.0.0.1:0"});
    INFO("server output: " << srv.output_tail());
    CHECK(ns.receive() == "READY=1");
    REQUIRE(srv.wait_listening(1));
    stop_evchat(srv);
    CHECK(ns.receive() == "STOPPING=1");
}

TEST_CASE("NOTIFY_SOCKET that cannot be used is logged; evchat serves anyway")
{
    TempDir dir;
    for (std::string bad : {std::string("relative/socket"), dir.file("nobody-listens")}) {
        CAPTURE(bad);
        auto srv = start_with_env({"NOTIFY_SOCKET=" + bad}, {"--listen", "127.0.0.1:0"});
        INFO("server output: " << srv->output_tail());
        CHECK(starts_with(first_line(srv->port()), "You are 127.0.0.1:"));
        CHECK(contains(srv->output(), "NOTIFY_SOCKET: READY=1: "));
        stop_evchat(*srv);
    }
}

// ---- configuration from the environment ----

TEST_CASE("environment: EVCHAT_LISTEN without --listen; several addresses separated by commas")
{
    {
        auto srv = start_with_env({"EVCHAT_LISTEN=127.0.0.1:0"}, {});
        INFO("server output: " << srv->output_tail());
        CHECK(srv->endpoints.at(0).host == "127.0.0.1");
        CHECK(starts_with(first_line(srv->port()), "You are 127.0.0.1:"));
        CHECK_FALSE(contains(srv->output(), ":8000")); // not the default localhost:8000
        stop_evchat(*srv);
    }
    {
        auto srv = start_with_env({"EVCHAT_LISTEN=127.0.0.1:0,127.0.0.1:0"}, {}, 2);
        INFO("server output: " << srv->output_tail());
        REQUIRE(srv->endpoints.size() == 2);
        CHECK(srv->port(0) != srv->port(1));
        // One room on both.
        auto A = Conn::connect("127.0.0.1", srv->port(0));
        REQUIRE(A);
        CHECK(A->read_line() == "You are " + A->addr());
        auto B = Conn::connect("127.0.0.1", srv->port(1));
        REQUIRE(B);
        CHECK(B->read_line() == "You are " + B->addr());
        CHECK(A->read_line() == B->addr() + " has arrived");
        stop_evchat(*srv);
    }
}

TEST_CASE("environment: EVCHAT_CONFIG is read as --config")
{
    TempFile config("[server]\nlisten = [\"127.0.0.1:0\"]\n[room]\nnames = true\n");
    {
        auto srv = start_with_env({"EVCHAT_CONFIG=" + config.path()}, {});
        INFO("server output: " << srv->output_tail());
        CHECK(first_line(srv->port()) == "Your name?"); // the file's [room] names
        stop_evchat(*srv);
    }
    RunResult ok = run({kEnv, "EVCHAT_CONFIG=" + config.path(), evchat_bin(), "--check-config"});
    CHECK(ok.status == 0);
    CHECK(ok.out == config.path() + ": ok\n");
    RunResult missing = run({kEnv, "EVCHAT_CONFIG=/nonexistent/evchat.toml", evchat_bin(), "--check-config"});
    CHECK(missing.status == 2);
    CHECK(contains(missing.err, "/nonexistent/evchat.toml"));
}

TEST_CASE("environment: the command line wins over it, and EVCHAT_LISTEN over the file's listen")
{
    TempFile names("[server]\nlisten = [\"127.0.0.2:0\"]\n[room]\nnames = true\n");
    TempFile plain("[server]\nlisten = [\"127.0.0.2:0\"]\n");
    {
        // --listen beats EVCHAT_LISTEN, --config beats EVCHAT_CONFIG.
        auto srv = start_with_env({"EVCHAT_LISTEN=127.0.0.2:0", "EVCHAT_CONFIG=" + names.path()},
                                  {"--config", plain.path(), "--listen", "127.0.0.1:0"});
        INFO("server output: " << srv->output_tail());
        std::string hello = first_line(srv->port());
        CHECK(starts_with(hello, "You are 127.0.0.1:")); // not "Your name?"
        CHECK(count_of(srv->output(), "listening on ") == 1);
        CHECK(srv->endpoints.at(0).host == "127.0.0.1");
        stop_evchat(*srv);
    }
    {
        // The environment's listen beats the file's, as --listen does.
        auto srv = start_with_env({"EVCHAT_LISTEN=127.0.0.1:0", "EVCHAT_CONFIG=" + names.path()}, {});
        INFO("server output: " << srv->output_tail());
        CHECK(first_line(srv->port()) == "Your name?");
        CHECK(count_of(srv->output(), "listening on ") == 1);
        CHECK(srv->endpoints.at(0).host == "127.0.0.1");
        stop_evchat(*srv);
    }
    // A bad address in the environment does not matter when the command line gives one.
    RunResult r = run({kEnv, "EVCHAT_LISTEN=no-such-host:x", evchat_bin(), "--listen", "127.0.0.1:0",
                       "--check-config"});
    CHECK(r.status == 0);
    RunResult bad = run({kEnv, "EVCHAT_LISTEN=no-such-host:x", evchat_bin(), "--check-config"});
    CHECK(bad.status == 2);
}
