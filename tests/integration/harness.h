// Black-box test harness for evchat: server processes, client connections, temp files.
// Everything here is bounded in time; nothing sleeps to synchronise.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <sys/resource.h>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace itest {

// Default bound for waiting on one event (a line, a process exit). Generous because
// the suite also runs against a server built with AddressSanitizer.
constexpr double kTimeout = 10.0;

double now(); // monotonic clock, seconds

// The server under test: $EVCHAT_BIN, else build/evchat.
std::string evchat_bin();
// The Go reference: $GOCHAT_BIN if set and executable, else "".
std::string gochat_bin();
// A file of the repository (e.g. "conf/evchat.toml"), searched from the current
// directory and from the directories above evchat_bin(); "" if not found.
std::string repo_file(const std::string& rel);
std::string read_file(const std::string& path);
bool have_ipv6_loopback();

// What read_line() returns when there is no line; never a line the tests send.
extern const std::string kTimedOut; // "<<timed out>>"
extern const std::string kEof;      // "<<EOF>>"
// On a read error read_line() returns "<<read error: ...>>".
bool is_mark(const std::string& line);

// A temporary file, removed on destruction.
class TempFile {
public:
    explicit TempFile(const std::string& content, const std::string& suffix = ".toml");
    ~TempFile();
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// A private temporary directory, removed (with the files the test made in it) at the end.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    // A path in the directory, unlinked at the end.
    std::string file(const std::string& name);

private:
    std::string path_;
    std::vector<std::string> files_;
};

// A client connection (non-blocking socket; every wait is a poll with a deadline).
class Conn {
public:
    // Connects to host:port (numeric IPv4 or IPv6 without brackets). rcvbuf > 0 sets
    // SO_RCVBUF before connecting; source (numeric, same family) binds the local address
    // first, e.g. "127.0.0.2" to be another client host. Returns nullptr on failure (errno
    // is kept).
    static std::unique_ptr<Conn> connect(const std::string& host, uint16_t port, int rcvbuf = 0,
                                         double timeout = kTimeout, const std::string& source = "");
    ~Conn();
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;

    int fd() const { return fd_; }
    // Our address as Go prints a peer: "127.0.0.1:5000", "[::1]:5000" — how the server names us.
    const std::string& addr() const { return addr_; }

    bool send_all(const std::string& data, double timeout = kTimeout); // false on error or timeout
    // One non-blocking send; returns bytes sent, 0 if the socket is full, -1 on error.
    long send_some(const char* data, size_t len);

    // The next line without its '\n', or kTimedOut / kEof / "<<read error: ...>>".
    std::string read_line(double timeout = kTimeout);
    // Reads what the socket has now, without waiting. Returns bytes read.
    size_t read_available();
    // Exactly n bytes, or fewer if the connection ends or the timeout passes first.
    std::string read_bytes(size_t n, double timeout = kTimeout);
    // Takes one complete line out of what has been read; false if there is none.
    bool pop_line(std::string& line);
    // Everything until the peer ends the connection (EOF or error) or the timeout;
    // *ended tells which. Includes bytes already read but not yet taken as lines.
    std::string read_until_eof(double timeout, bool* ended);
    bool wait_readable(double timeout);

    bool eof() const { return eof_; }   // the peer closed (read returned 0)
    int error() const { return error_; } // errno of a failed read, or 0
    bool ended() const { return eof_ || error_ != 0; }
    size_t buffered() const { return buf_.size() - rpos_; }

    void shutdown_write();
    void close();     // orderly close
    void close_rst(); // close with SO_LINGER 0: the peer gets a reset

private:
    Conn() = default;
    int fd_ = -1;
    std::string addr_;
    std::string buf_;
    size_t rpos_ = 0;
    bool eof_ = false;
    int error_ = 0;
};

struct Endpoint {
    std::string host; // as logged, e.g. "127.0.0.1" or "[::1]"
    uint16_t port = 0;
};

// Whether the tests run with a load balancer in front of every evchat they start
// (EVCHAT_FRONT=haproxy-v1 or haproxy-v2: HAProxy with send-proxy or send-proxy-v2, and
// evchat trusting it), and which; "" for none.
std::string front();

struct ServerOptions {
    rlim_t nofile = 0;      // RLIMIT_NOFILE for the child, 0 = inherit
    std::string config;     // TOML text; non-empty => written to a temp file, passed as --config
    std::vector<std::string> listen{"127.0.0.1:0"}; // each becomes --listen
    bool deny_io_uring = false;  // a seccomp filter refuses io_uring_setup, as containers' do
};

// A child process with stdout and stderr captured in an unlinked temporary file (a file
// rather than a pipe, so a chatty server can never block on its log). Killed on
// destruction if still running.
class Server {
public:
    explicit Server(const std::vector<std::string>& argv, rlim_t nofile = 0, bool deny_io_uring = false);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    pid_t pid() const { return pid_; }
    // Waits until stderr has n lines containing "listening on HOST:PORT"; fills endpoints.
    bool wait_listening(size_t n, double timeout = kTimeout);
    // Waits until the output holds `what` at least `count` times; false on timeout or exit.
    bool wait_output(const std::string& what, size_t count = 1, double timeout = kTimeout);
    std::vector<Endpoint> endpoints;
    uint16_t port(size_t i = 0) const { return endpoints.at(i).port; }

    std::string output() const; // everything written to stdout and stderr so far
    std::string output_tail(size_t max = 4000) const;
    void signal(int sig);
    bool running();
    // Waits for the exit; true if it exited in time (then exit_status() is valid).
    bool wait_exit(double timeout = kTimeout);
    // The exit code, or 128 + signal number if killed by a signal.
    int exit_status() const { return status_; }
    double cpu_seconds() const; // utime + stime from /proc/PID/stat
    long vm_hwm_kb() const;     // peak RSS from /proc/PID/status, -1 if unknown
    bool maps_contain(const std::string& what) const;

    std::unique_ptr<TempFile> config;   // kept alive for the server's life
    std::unique_ptr<Server> balancer;   // EVCHAT_FRONT: the HAProxy in front, endpoints[0] its
    std::unique_ptr<Conn> sentinel;     // gochat only: an idle member that keeps it known-up

private:
    pid_t pid_ = -1;
    int out_fd_ = -1;
    bool exited_ = false;
    int status_ = -1;
};

// Starts evchat with --listen for each of opts.listen and waits for its "listening on"
// lines (REQUIRE-fails the test otherwise).
std::unique_ptr<Server> start_evchat(const ServerOptions& opts = {});
// Sends SIGTERM and CHECKs a clean exit with status 0 (catches crashes and sanitizer
// reports at exit).
void stop_evchat(Server& s);
// Starts the Go reference on a free loopback port; nullptr if GOCHAT_BIN is unavailable.
std::unique_ptr<Server> start_gochat();
// haproxy's path, or "" if it is not installed.
std::string haproxy_bin();
// Starts HAProxy in the foreground with config text (its "global" and "defaults" sections
// are added: no daemon, generous timeouts) and waits until each of ports is listening;
// nullptr if haproxy is not installed.
std::unique_ptr<Server> start_haproxy(const std::string& config, const std::vector<uint16_t>& ports);
// A loopback TCP port that was free a moment ago (bound to port 0, then closed).
uint16_t free_port();
// redis-server's path, or "" if it is not installed.
std::string redis_bin();
// Starts redis-server on 127.0.0.1:port (0: a free one) with persistence off (extra
// arguments come after, e.g. "--dir", DIR) and waits until it accepts connections;
// nullptr if redis-server is not installed.
std::unique_ptr<Server> start_redis(uint16_t port = 0, const std::vector<std::string>& extra = {});
// Sends one command to the Redis at port (inline form, "CLIENT PAUSE 100") and returns
// its reply without the CRLF: the status, error or integer line, or a bulk string's text.
std::string redis_command(uint16_t port, const std::string& command);

// The writing end of fifo, opened once reader (a client reading the FIFO as its input) has
// opened its end; -1 if it did not within kTimeout or exited first.
int open_fifo_writer(const std::string& fifo, Server& reader);
// The ADDR in the next line c hears, which must be "ADDR has arrived" (REQUIRE-fails
// otherwise).
std::string arrived(Conn& c);

// Runs a program to completion, capturing stdout and stderr.
struct RunResult {
    int status = -1; // exit code, 128 + signal, or -1 on timeout
    std::string out, err;
};
RunResult run(const std::vector<std::string>& argv, double timeout = kTimeout);

// The Go reference's arrival is not atomic: a newcomer's "has arrived" is broadcast
// before the newcomer joins the receivers, so a broadcast made right after it can miss
// the newcomer. settle() closes that window for tests: the gochat sentinel says "sync N"
// (again, if need be) until the newcomer receives it. With no sentinel (evchat, whose
// arrival is atomic) it does nothing.
void settle(Conn* sentinel, Conn& newcomer);
// read_line() that skips the sentinel's lines ("SENTINEL-ADDR: ..."), if there is one.
std::string read_line_except(Conn& c, const Conn* sentinel, double timeout = kTimeout);

// A room of clients on one server: join() connects, checks the "You are ADDR" greeting
// (ADDR must be the client's own address) and that every earlier member receives
// "ADDR has arrived" as its next line (REQUIRE-fails otherwise). Members that were
// closed, or that have seen their connection end, are not asked. With a sentinel
// (gochat), reads skip its lines and join() settles the newcomer.
class Room {
public:
    Room(std::string host, uint16_t port, Conn* sentinel = nullptr)
        : host_(std::move(host)), port_(port), sentinel_(sentinel)
    {
    }
    Conn& join(int rcvbuf = 0);
    Conn& operator[](size_t i) { return *members_.at(i); }
    size_t size() const { return members_.size(); }
    std::string read(Conn& c, double timeout = kTimeout) { return read_line_except(c, sentinel_, timeout); }

private:
    std::string host_;
    uint16_t port_;
    Conn* sentinel_;
    std::vector<std::unique_ptr<Conn>> members_;
};

// The book's session: A and B greet each other, A leaves, C arrives, B welcomes C and
// leaves. ports[0..2] are where A, B and C connect (one server, or nodes of a cluster).
// Returns each client's lines normalised to A, B, C; seed_expected is the book's.
using Transcripts = std::map<std::string, std::vector<std::string>>;
Transcripts seed_session(const std::string& host, const std::vector<uint16_t>& ports, Conn* sentinel = nullptr);
extern const Transcripts seed_expected;

// Replaces each real address by its symbolic name where the protocol puts one:
// "You are ADDR", "ADDR has arrived", "ADDR has left", "ADDR: text".
using Names = std::vector<std::pair<std::string, std::string>>; // (address, name)
std::string normalize(const std::string& line, const Names& names);
std::vector<std::string> normalize(const std::vector<std::string>& lines, const Names& names);

// Sends text while reading what comes back, so that neither side's buffers fill; on_line
// (if given) gets each line read. Returns the count of lines read once it has `lines` of
// them, the connection ended, the socket failed, or the timeout passed.
size_t send_and_hear(Conn& c, const std::string& text, size_t lines, double timeout = 6 * kTimeout,
            const std::function<void(const std::string&)>& on_line = {});
// A numbered line of exactly `width` bytes: "0000042 " then dots.
std::string numbered(int i, size_t width);

// How many times needle occurs in text.
size_t count_of(const std::string& text, const std::string& needle);

// Printable form of a byte string for failure messages.
std::string escape(const std::string& s, size_t max = 200);

} // namespace itest
