// The flush pass's two paths: io_uring submissions of 8 sends where the kernel allows it,
// writev where the ring is refused (a seccomp filter, as container runtimes have) or
// turned off. Each says which it took, once; the room is the same on both.
#include "harness.h"
#include "web_client.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <linux/io_uring.h>
#include <string>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

using namespace itest;

namespace {

// Whether this process may set up a ring at all (the kernel, kernel.io_uring_disabled).
bool kernel_allows_io_uring()
{
    io_uring_params p{};
    long fd = syscall(__NR_io_uring_setup, 4, &p);
    if (fd < 0)
        return false;
    close(static_cast<int>(fd));
    return true;
}

// EVCHAT_IO_URING for the servers started while it lives (the suite may run with it set).
class EnvVar {
public:
    EnvVar(const char* name, const char* value) : name_(name)
    {
        if (const char* old = getenv(name))
            old_ = old, had_ = true;
        if (value)
            setenv(name, value, 1);
        else
            unsetenv(name);
    }
    ~EnvVar()
    {
        if (had_)
            setenv(name_, old_.c_str(), 1);
        else
            unsetenv(name_);
    }

private:
    const char* name_;
    std::string old_;
    bool had_ = false;
};

const char* const admin = "[admin]\nlisten = \"127.0.0.1:0\"\n";

// Three members hear each other arrive and one line from each, in one order.
void check_room(Server& srv)
{
    std::vector<std::unique_ptr<Conn>> m;
    for (int i = 0; i < 3; i++) {
        m.push_back(Conn::connect("127.0.0.1", srv.port()));
        REQUIRE(m.back());
        REQUIRE(m.back()->read_line() == "You are " + m.back()->addr());
        for (int j = 0; j < i; j++)
            REQUIRE(m[j]->read_line() == m.back()->addr() + " has arrived");
    }
    for (int i = 0; i < 3; i++) {
        REQUIRE(m[i]->send_all("line " + std::to_string(i) + "\n"));
        for (auto& c : m)
            CHECK(c->read_line() == m[i]->addr() + ": line " + std::to_string(i));
    }
}

}  // namespace

TEST_CASE("io_uring: auto flushes through one ring and says so; the room is the seed's")
{
    EnvVar env("EVCHAT_IO_URING", nullptr);
    ServerOptions opts;
    opts.config = admin;
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    if (!kernel_allows_io_uring()) {
        MESSAGE("this kernel refuses io_uring: only the fallback can be checked");
        CHECK(count_of(srv->output(), "io_uring unavailable (") == 1);
        check_room(*srv);
        stop_evchat(*srv);
        return;
    }
    CHECK(count_of(srv->output(), "info flush: io_uring (8 sends per submission)") == 1);
    CHECK(srv->output().find("writev") == std::string::npos);
    CHECK(metric(*srv, "evchat_flush_path{path=\"io_uring\"}") == 1);
    CHECK(metric(*srv, "evchat_flush_path{path=\"writev\"}") == 0);
    double sends_before = metric(*srv, "evchat_io_uring_sends_total");
    double submissions_before = metric(*srv, "evchat_io_uring_submissions_total");
    check_room(*srv);
    // 3 greetings, 3 arrivals, 9 lines: each broadcast's sends go out together, so there
    // are fewer submissions than sends, and at least one send each.
    double sends = metric(*srv, "evchat_io_uring_sends_total") - sends_before;
    double submissions = metric(*srv, "evchat_io_uring_submissions_total") - submissions_before;
    CHECK(sends >= 15);
    CHECK(submissions >= 1);
    CHECK(submissions < sends);
    stop_evchat(*srv);
}

TEST_CASE("io_uring: refused by a seccomp filter, one warning, writev, and the same room")
{
    EnvVar env("EVCHAT_IO_URING", "auto");
    ServerOptions opts;
    opts.config = admin;
    opts.deny_io_uring = true;
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    CHECK(count_of(srv->output(), "warn io_uring unavailable (io_uring_setup: Operation not permitted): "
                               "flushing with writev") == 1);
    CHECK(metric(*srv, "evchat_flush_path{path=\"io_uring\"}") == 0);
    CHECK(metric(*srv, "evchat_flush_path{path=\"writev\"}") == 1);
    CHECK(metric(*srv, "evchat_io_uring_sends_total") == -1);  // absent
    check_room(*srv);
    CHECK(count_of(srv->output(), "io_uring unavailable") == 1);  // nothing more is said of it
    stop_evchat(*srv);
}

TEST_CASE("io_uring = \"off\", and EVCHAT_IO_URING over the file")
{
    SUBCASE("the file says off")
    {
        EnvVar env("EVCHAT_IO_URING", nullptr);
        ServerOptions opts;
        opts.config = std::string("[server]\nio_uring = \"off\"\n") + admin;
        auto srv = start_evchat(opts);
        INFO("server output: " << srv->output_tail());
        CHECK(count_of(srv->output(), "info flush: writev (io_uring = \"off\")") == 1);
        CHECK(srv->output().find("unavailable") == std::string::npos);
        CHECK(metric(*srv, "evchat_flush_path{path=\"writev\"}") == 1);
        check_room(*srv);
        stop_evchat(*srv);
    }
    SUBCASE("the environment says off over a file that says auto")
    {
        EnvVar env("EVCHAT_IO_URING", "off");
        ServerOptions opts;
        opts.config = "[server]\nio_uring = \"auto\"\n";
        auto srv = start_evchat(opts);
        INFO("server output: " << srv->output_tail());
        CHECK(count_of(srv->output(), "flush: writev (io_uring = \"off\")") == 1);
        stop_evchat(*srv);
    }
    SUBCASE("a value that is neither is refused")
    {
        EnvVar env("EVCHAT_IO_URING", "on");
        RunResult r = run({evchat_bin(), "--check-config"});
        CHECK(r.status == 2);
        CHECK(r.err == "EVCHAT_IO_URING: expected \"auto\" or \"off\", got \"on\"\n");
    }
    SUBCASE("in the file, likewise, at its line and column")
    {
        EnvVar env("EVCHAT_IO_URING", nullptr);
        TempFile f("[server]\nio_uring = \"yes\"\n");
        RunResult r = run({evchat_bin(), "--check-config", "--config", f.path()});
        CHECK(r.status == 2);
        CHECK(r.err.find(f.path() + ":2:12: ") == 0);
        CHECK(r.err.find("io_uring") != std::string::npos);
    }
}

// More members than one submission holds (8): a pass submits, reaps and goes on many
// times. A member that does not read makes its sends come back short or with EAGAIN, and
// is written the rest when its socket drains; nothing is lost or reordered on either path.
// The limits are high enough that no one is put out or stops being read meanwhile (the
// sender does not read its own lines back until the end).
TEST_CASE("io_uring: a pass over more members than one submission holds, and a reader that stalls")
{
    const size_t members = 300;
    rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < members + 200 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, members + 200);
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    ServerOptions opts;
    opts.config = std::string("[room]\npresence = \"none\"\n[client]\noutput_soft_limit = \"16MiB\"\n"
                              "output_hard_limit = \"32MiB\"\n") +
                  admin;
    auto srv = start_evchat(opts);
    INFO("server output: " << srv->output_tail());
    std::vector<std::unique_ptr<Conn>> m;
    for (size_t i = 0; i < members; i++) {
        m.push_back(Conn::connect("127.0.0.1", srv->port()));
        REQUIRE(m.back());
        REQUIRE(m.back()->read_line() == "You are " + m.back()->addr());
    }
    auto stalled = Conn::connect("127.0.0.1", srv->port(), 4096);
    REQUIRE(stalled);
    double sends_before = metric(*srv, "evchat_io_uring_sends_total");

    REQUIRE(m[0]->send_all("to everyone\n"));
    for (auto& c : m)
        REQUIRE(c->read_line() == m[0]->addr() + ": to everyone");
    bool ring = srv->output().find("flush: io_uring") != std::string::npos;
    if (ring)
        CHECK(metric(*srv, "evchat_io_uring_sends_total") - sends_before >= members);
    else
        MESSAGE("the flush pass is on writev here: " << srv->output_tail(400));

    m.resize(3);  // the rest leave: the flood below is for three readers and the stalled one

    // 8,000 lines of 1,000 bytes: beyond what the stalled reader's socket takes, the
    // server's send buffer (autotuned to 4 MiB at most) included.
    const int n = 8000;
    std::string flood;
    for (int i = 0; i < n; i++)
        flood += numbered(i, 1000) + "\n";
    REQUIRE(m[1]->send_all(flood));
    for (int i = 0; i < n; i++)
        REQUIRE(m[2]->read_line() == m[1]->addr() + ": " + numbered(i, 1000));
    REQUIRE(stalled->read_line() == "You are " + stalled->addr());
    REQUIRE(stalled->read_line() == m[0]->addr() + ": to everyone");
    if (ring)  // the stalled reader's sends came back short, and waited for its socket
        CHECK(metric(*srv, "evchat_io_uring_short_sends_total") >= 1);
    for (int i = 0; i < n; i++)
        REQUIRE(stalled->read_line() == m[1]->addr() + ": " + numbered(i, 1000));
    stop_evchat(*srv);
}
