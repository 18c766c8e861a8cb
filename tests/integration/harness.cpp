#include "harness.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <fstream>
#include <cstddef>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace itest {

const std::string kTimedOut = "<<timed out>>";
const std::string kEof = "<<EOF>>";

bool is_mark(const std::string& line)
{
    return line.size() >= 4 && line.compare(0, 2, "<<") == 0 && line.compare(line.size() - 2, 2, ">>") == 0;
}

double now()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int ms_left(double deadline)
{
    double left = deadline - now();
    if (left <= 0)
        return 0;
    return static_cast<int>(left * 1000) + 1;
}

static bool executable(const std::string& path)
{
    return !path.empty() && access(path.c_str(), X_OK) == 0;
}

std::string evchat_bin()
{
    const char* env = getenv("EVCHAT_BIN");
    return env && *env ? env : "build/evchat";
}

std::string gochat_bin()
{
    const char* env = getenv("GOCHAT_BIN");
    if (!env || !*env || !executable(env))
        return "";
    return env;
}

static std::string dirname_of(const std::string& path)
{
    size_t slash = path.rfind('/');
    if (slash == std::string::npos)
        return ".";
    if (slash == 0)
        return "/";
    return path.substr(0, slash);
}

std::string repo_file(const std::string& rel)
{
    if (access(rel.c_str(), R_OK) == 0)
        return rel;
    std::string dir = dirname_of(evchat_bin());
    for (int up = 0; up < 4; up++) {
        std::string candidate = dir + "/" + rel;
        if (access(candidate.c_str(), R_OK) == 0)
            return candidate;
        dir += "/..";
    }
    return "";
}

std::string read_file(const std::string& path)
{
    std::string out;
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return out;
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            break;
        out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
}

bool have_ipv6_loopback()
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_addr = in6addr_loopback;
    bool ok = bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    ::close(fd);
    return ok;
}

size_t send_and_hear(Conn& c, const std::string& text, size_t lines, double timeout,
            const std::function<void(const std::string&)>& on_line)
{
    size_t off = 0, got = 0;
    double deadline = now() + timeout;
    std::string line;
    while (got < lines && now() < deadline && !c.ended()) {
        if (off < text.size()) {
            long k = c.send_some(text.data() + off, std::min<size_t>(text.size() - off, 65536));
            if (k < 0)
                break;
            off += static_cast<size_t>(k);
        }
        c.wait_readable(0.01);
        c.read_available();
        while (c.pop_line(line)) {
            if (on_line)
                on_line(line);
            got++;
        }
    }
    return got;
}

std::string numbered(int i, size_t width)
{
    char num[16];
    snprintf(num, sizeof num, "%07d ", i);
    std::string s = num;
    s.resize(width, '.');
    return s;
}

size_t count_of(const std::string& text, const std::string& needle)
{
    size_t n = 0;
    for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + needle.size()))
        n++;
    return n;
}

std::string escape(const std::string& s, size_t max)
{
    std::string out;
    for (size_t i = 0; i < s.size() && i < max; i++) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c == '\n')
            out += "\\n";
        else if (c == '\r')
            out += "\\r";
        else if (c == '\\')
            out += "\\\\";
        else if (c < 0x20 || c >= 0x7f) {
            char hex[8];
            snprintf(hex, sizeof hex, "\\x%02x", c);
            out += hex;
        } else
            out += static_cast<char>(c);
    }
    if (s.size() > max)
        out += "...(" + std::to_string(s.size()) + " bytes)";
    return out;
}

// ---- TempFile ----

TempFile::TempFile(const std::string& content, const std::string& suffix)
{
    const char* tmp = getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/evchat-itest-XXXXXX" + suffix;
    std::vector<char> name(tmpl.begin(), tmpl.end());
    name.push_back('\0');
    int fd = mkstemps(name.data(), static_cast<int>(suffix.size()));
    REQUIRE_MESSAGE(fd >= 0, "mkstemps: " << strerror(errno));
    path_ = name.data();
    size_t off = 0;
    while (off < content.size()) {
        ssize_t n = write(fd, content.data() + off, content.size() - off);
        if (n <= 0)
            break;
        off += static_cast<size_t>(n);
    }
    ::close(fd);
    REQUIRE(off == content.size());
}

TempFile::~TempFile()
{
    if (!path_.empty())
        unlink(path_.c_str());
}

TempDir::TempDir()
{
    const char* tmp = getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/evchat-itest-dir-XXXXXX";
    std::vector<char> name(tmpl.begin(), tmpl.end());
    name.push_back('\0');
    REQUIRE_MESSAGE(mkdtemp(name.data()), "mkdtemp: " << strerror(errno));
    path_ = name.data();
}

TempDir::~TempDir()
{
    for (auto& f : files_)
        unlink(f.c_str());
    rmdir(path_.c_str());
}

std::string TempDir::file(const std::string& name)
{
    files_.push_back(path_ + "/" + name);
    return files_.back();
}

// ---- Conn ----

static std::string go_format(const sockaddr_storage& ss)
{
    char host[INET6_ADDRSTRLEN] = "";
    if (ss.ss_family == AF_INET) {
        auto* sa = reinterpret_cast<const sockaddr_in*>(&ss);
        inet_ntop(AF_INET, &sa->sin_addr, host, sizeof host);
        return std::string(host) + ":" + std::to_string(ntohs(sa->sin_port));
    }
    auto* sa = reinterpret_cast<const sockaddr_in6*>(&ss);
    if (IN6_IS_ADDR_V4MAPPED(&sa->sin6_addr)) {
        inet_ntop(AF_INET, &sa->sin6_addr.s6_addr[12], host, sizeof host);
        return std::string(host) + ":" + std::to_string(ntohs(sa->sin6_port));
    }
    inet_ntop(AF_INET6, &sa->sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(sa->sin6_port));
}

std::unique_ptr<Conn> Conn::connect(const std::string& host, uint16_t port, int rcvbuf, double timeout,
                                    const std::string& source)
{
    sockaddr_storage ss{};
    socklen_t len;
    std::string h = host;
    if (h.size() >= 2 && h.front() == '[' && h.back() == ']')
        h = h.substr(1, h.size() - 2);
    if (h.find(':') != std::string::npos) {
        auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
        sa->sin6_family = AF_INET6;
        sa->sin6_port = htons(port);
        if (inet_pton(AF_INET6, h.c_str(), &sa->sin6_addr) != 1) {
            errno = EINVAL;
            return nullptr;
        }
        len = sizeof(sockaddr_in6);
    } else {
        auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
        sa->sin_family = AF_INET;
        sa->sin_port = htons(port);
        if (inet_pton(AF_INET, h.c_str(), &sa->sin_addr) != 1) {
            errno = EINVAL;
            return nullptr;
        }
        len = sizeof(sockaddr_in);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return nullptr;
    std::unique_ptr<Conn> c(new Conn);
    c->fd_ = fd;
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (!source.empty()) {
        sockaddr_storage from{};
        from.ss_family = ss.ss_family;
        void* where = ss.ss_family == AF_INET6 ? static_cast<void*>(&reinterpret_cast<sockaddr_in6*>(&from)->sin6_addr)
                                                : static_cast<void*>(&reinterpret_cast<sockaddr_in*>(&from)->sin_addr);
        if (inet_pton(ss.ss_family, source.c_str(), where) != 1 ||
            bind(fd, reinterpret_cast<sockaddr*>(&from), len) != 0)
            return nullptr;
    }
    if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        if (errno != EINPROGRESS)
            return nullptr;
        pollfd p{fd, POLLOUT, 0};
        double deadline = now() + timeout;
        int r;
        do
            r = poll(&p, 1, ms_left(deadline));
        while (r < 0 && errno == EINTR);
        if (r <= 0) {
            errno = ETIMEDOUT;
            return nullptr;
        }
        int err = 0;
        socklen_t elen = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
        if (err != 0) {
            errno = err;
            return nullptr;
        }
    }
    sockaddr_storage local{};
    socklen_t llen = sizeof local;
    getsockname(fd, reinterpret_cast<sockaddr*>(&local), &llen);
    c->addr_ = go_format(local);
    return c;
}

Conn::~Conn()
{
    close();
}

long Conn::send_some(const char* data, size_t len)
{
    if (fd_ < 0)
        return -1;
    ssize_t n;
    do
        n = send(fd_, data, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    return n;
}

bool Conn::send_all(const std::string& data, double timeout)
{
    double deadline = now() + timeout;
    size_t off = 0;
    while (off < data.size()) {
        long n = send_some(data.data() + off, data.size() - off);
        if (n < 0)
            return false;
        off += static_cast<size_t>(n);
        if (off < data.size()) {
            pollfd p{fd_, POLLOUT, 0};
            if (poll(&p, 1, ms_left(deadline)) <= 0 && now() >= deadline)
                return false;
        }
    }
    return true;
}

size_t Conn::read_available()
{
    if (fd_ < 0 || ended())
        return 0;
    size_t total = 0;
    char tmp[65536];
    for (;;) {
        ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
        if (n > 0) {
            if (rpos_ > 0 && rpos_ >= buf_.size() / 2) {
                buf_.erase(0, rpos_);
                rpos_ = 0;
            }
            buf_.append(tmp, static_cast<size_t>(n));
            total += static_cast<size_t>(n);
            continue;
        }
        if (n == 0)
            eof_ = true;
        else if (errno == EINTR)
            continue;
        else if (errno != EAGAIN && errno != EWOULDBLOCK)
            error_ = errno;
        break;
    }
    return total;
}

std::string Conn::read_bytes(size_t n, double timeout)
{
    double deadline = now() + timeout;
    while (buffered() < n && !ended()) {
        double left = deadline - now();
        if (left <= 0 || !wait_readable(left))
            break;
        read_available();
    }
    size_t k = std::min(n, buffered());
    std::string out = buf_.substr(rpos_, k);
    rpos_ += k;
    return out;
}

bool Conn::pop_line(std::string& line)
{
    size_t nl = buf_.find('\n', rpos_);
    if (nl == std::string::npos)
        return false;
    line.assign(buf_, rpos_, nl - rpos_);
    rpos_ = nl + 1;
    if (rpos_ == buf_.size()) {
        buf_.clear();
        rpos_ = 0;
    }
    return true;
}

bool Conn::wait_readable(double timeout)
{
    pollfd p{fd_, POLLIN, 0};
    return poll(&p, 1, static_cast<int>(timeout * 1000)) > 0;
}

std::string Conn::read_line(double timeout)
{
    double deadline = now() + timeout;
    std::string line;
    for (;;) {
        if (pop_line(line))
            return line;
        if (error_)
            return "<<read error: " + std::string(strerror(error_)) + ">>";
        if (eof_)
            return kEof;
        if (fd_ < 0)
            return "<<closed>>";
        if (read_available() > 0 || ended())
            continue;
        if (now() >= deadline)
            return kTimedOut;
        pollfd p{fd_, POLLIN, 0};
        poll(&p, 1, ms_left(deadline));
    }
}

std::string Conn::read_until_eof(double timeout, bool* ended_out)
{
    double deadline = now() + timeout;
    while (!ended() && fd_ >= 0) {
        if (read_available() > 0 || ended())
            continue;
        if (now() >= deadline)
            break;
        pollfd p{fd_, POLLIN, 0};
        poll(&p, 1, ms_left(deadline));
    }
    if (ended_out)
        *ended_out = ended();
    std::string rest = buf_.substr(rpos_);
    buf_.clear();
    rpos_ = 0;
    return rest;
}

void Conn::shutdown_write()
{
    if (fd_ >= 0)
        ::shutdown(fd_, SHUT_WR);
}

void Conn::close()
{
    if (fd_ >= 0)
        ::close(fd_);
    fd_ = -1;
}

void Conn::close_rst()
{
    if (fd_ < 0)
        return;
    linger l{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close();
}

// ---- processes ----

// Builds the child's environment: ours without the variables evchat reads, so that
// only the test's arguments configure it.
static std::vector<std::string> child_environment()
{
    std::vector<std::string> env;
    for (char** e = environ; *e; e++) {
        std::string v = *e;
        if (v.rfind("EVCHAT_CONFIG=", 0) == 0 || v.rfind("EVCHAT_LISTEN=", 0) == 0 ||
            v.rfind("NOTIFY_SOCKET=", 0) == 0)
            continue;
        env.push_back(v);
    }
    return env;
}

static std::vector<char*> c_strings(std::vector<std::string>& v)
{
    std::vector<char*> out;
    for (auto& s : v)
        out.push_back(&s[0]);
    out.push_back(nullptr);
    return out;
}

static int decode_status(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return -1;
}

// In the child: io_uring_setup fails with EPERM from now on, as under Docker's default
// seccomp profile.
static void deny_io_uring_setup()
{
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog program{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0)
        _exit(126);
}

// fork + exec with the given fds as stdout and stderr; only async-signal-safe calls in
// the child.
static pid_t spawn(std::vector<std::string> argv, int out_fd, int err_fd, rlim_t nofile, bool deny_io_uring = false)
{
    std::vector<std::string> envs = child_environment();
    std::vector<char*> args = c_strings(argv);
    std::vector<char*> envp = c_strings(envs);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    // Child.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
        dup2(devnull, 0);
        if (devnull > 2)
            close(devnull);
    }
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    if (nofile > 0) {
        rlimit rl{nofile, nofile};
        setrlimit(RLIMIT_NOFILE, &rl);
        // As root, exec would give back CAP_SYS_RESOURCE, with which the server could
        // raise its hard limit again: take it out of the bounding set.
        prctl(PR_CAPBSET_DROP, CAP_SYS_RESOURCE, 0, 0, 0);
    }
    if (deny_io_uring)
        deny_io_uring_setup();
    execve(args[0], args.data(), envp.data());
    static const char msg[] = "exec failed\n";
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    (void)ignored;
    _exit(127);
}

int open_fifo_writer(const std::string& fifo, Server& reader)
{
    int w = -1;
    for (double deadline = now() + kTimeout; w < 0 && now() < deadline && reader.running();) {
        w = open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (w < 0)
            usleep(5000);  // retrying until the reader is there, within a deadline
    }
    return w;
}

std::string arrived(Conn& c)
{
    const std::string suffix = " has arrived";
    std::string line = c.read_line();
    REQUIRE_MESSAGE(line.size() > suffix.size(), line);
    REQUIRE_MESSAGE(line.compare(line.size() - suffix.size(), suffix.size(), suffix) == 0, line);
    return line.substr(0, line.size() - suffix.size());
}

RunResult run(const std::vector<std::string>& argv, double timeout)
{
    RunResult r;
    int out[2], err[2];
    REQUIRE(pipe2(out, O_CLOEXEC) == 0);
    REQUIRE(pipe2(err, O_CLOEXEC) == 0);
    pid_t pid = spawn(argv, out[1], err[1], 0);
    ::close(out[1]);
    ::close(err[1]);
    REQUIRE(pid > 0);
    double deadline = now() + timeout;
    bool out_open = true, err_open = true;
    while ((out_open || err_open) && now() < deadline) {
        pollfd p[2] = {{out_open ? out[0] : -1, POLLIN, 0}, {err_open ? err[0] : -1, POLLIN, 0}};
        if (poll(p, 2, ms_left(deadline)) <= 0)
            continue;
        char buf[65536];
        for (int i = 0; i < 2; i++) {
            if (!p[i].revents)
                continue;
            ssize_t n = read(p[i].fd, buf, sizeof buf);
            if (n > 0)
                (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
            else
                (i == 0 ? out_open : err_open) = false;
        }
    }
    ::close(out[0]);
    ::close(err[0]);
    int st = 0;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) {
            r.status = decode_status(st);
            break;
        }
        if (now() >= deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            r.status = -1;
            break;
        }
        usleep(2000); // polling a child's exit within a deadline
    }
    return r;
}

Server::Server(const std::vector<std::string>& argv, rlim_t nofile, bool deny_io_uring)
{
    const char* tmp = getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/evchat-itest-log-XXXXXX";
    std::vector<char> name(tmpl.begin(), tmpl.end());
    name.push_back('\0');
    out_fd_ = mkostemp(name.data(), O_CLOEXEC | O_APPEND);
    REQUIRE_MESSAGE(out_fd_ >= 0, "mkostemp: " << strerror(errno));
    unlink(name.data());
    pid_ = spawn(argv, out_fd_, out_fd_, nofile, deny_io_uring);
    REQUIRE_MESSAGE(pid_ > 0, "fork: " << strerror(errno));
}

Server::~Server()
{
    sentinel.reset();
    if (pid_ > 0 && !exited_) {
        kill(pid_, SIGKILL);
        int st;
        waitpid(pid_, &st, 0);
    }
    if (out_fd_ >= 0)
        ::close(out_fd_);
}

std::string Server::output() const
{
    std::string out;
    char buf[65536];
    off_t off = 0;
    for (;;) {
        ssize_t n = pread(out_fd_, buf, sizeof buf, off);
        if (n <= 0)
            break;
        out.append(buf, static_cast<size_t>(n));
        off += n;
    }
    return out;
}

std::string Server::output_tail(size_t max) const
{
    std::string out = output();
    if (out.size() > max)
        out = "..." + out.substr(out.size() - max);
    return out;
}

bool Server::wait_listening(size_t n, double timeout)
{
    double deadline = now() + timeout;
    for (;;) {
        std::string out = output();
        std::vector<Endpoint> found;
        size_t pos = 0;
        static const std::string key = "listening on ";
        while ((pos = out.find(key, pos)) != std::string::npos) {
            // The message itself, not "no longer listening on" or "admin listening on".
            bool own = (pos >= 5 && out.compare(pos - 5, 5, "info ") == 0) ||
                       (pos >= 7 && out.compare(pos - 7, 7, "\"msg\":\"") == 0);
            pos += key.size();
            if (!own)
                continue;
            size_t end = out.find_first_of(" \n", pos);
            std::string hp = out.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
            size_t colon = hp.rfind(':');
            if (colon != std::string::npos) {
                Endpoint e;
                e.host = hp.substr(0, colon);
                e.port = static_cast<uint16_t>(atoi(hp.c_str() + colon + 1));
                if (e.port != 0)
                    found.push_back(e);
            }
        }
        if (found.size() >= n) {
            endpoints = found;
            return true;
        }
        if (!running() || now() >= deadline)
            return false;
        usleep(5000); // polling the log file for a line, within a deadline
    }
}

bool Server::wait_output(const std::string& what, size_t count, double timeout)
{
    double deadline = now() + timeout;
    for (;;) {
        if (count_of(output(), what) >= count)
            return true;
        if (!running() || now() >= deadline)
            return false;
        usleep(5000); // polling the log file for a line, within a deadline
    }
}

void Server::signal(int sig)
{
    if (pid_ > 0 && !exited_)
        kill(pid_, sig);
}

bool Server::running()
{
    if (exited_)
        return false;
    int st;
    pid_t w = waitpid(pid_, &st, WNOHANG);
    if (w == pid_) {
        exited_ = true;
        status_ = decode_status(st);
        return false;
    }
    return true;
}

bool Server::wait_exit(double timeout)
{
    double deadline = now() + timeout;
    while (running()) {
        if (now() >= deadline)
            return false;
        usleep(2000); // polling a child's exit within a deadline
    }
    return true;
}

static std::string proc_file(pid_t pid, const char* name)
{
    return read_file("/proc/" + std::to_string(pid) + "/" + name);
}

double Server::cpu_seconds() const
{
    std::string stat = proc_file(pid_, "stat");
    size_t paren = stat.rfind(')');
    if (paren == std::string::npos)
        return -1;
    // Fields after the command: state(3) ... utime(14) stime(15).
    std::vector<std::string> fields;
    size_t pos = paren + 2;
    while (pos < stat.size() && fields.size() < 13) {
        size_t sp = stat.find(' ', pos);
        fields.push_back(stat.substr(pos, sp - pos));
        if (sp == std::string::npos)
            break;
        pos = sp + 1;
    }
    if (fields.size() < 13)
        return -1;
    double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    return (atof(fields[11].c_str()) + atof(fields[12].c_str())) / ticks;
}

long Server::vm_hwm_kb() const
{
    std::string status = proc_file(pid_, "status");
    size_t pos = status.find("VmHWM:");
    if (pos == std::string::npos)
        return -1;
    return atol(status.c_str() + pos + 6);
}

bool Server::maps_contain(const std::string& what) const
{
    return proc_file(pid_, "maps").find(what) != std::string::npos;
}

std::string front()
{
    const char* f = getenv("EVCHAT_FRONT");
    return f ? f : "";
}

std::string haproxy_bin()
{
    for (const char* p : {"/usr/sbin/haproxy", "/usr/bin/haproxy", "/usr/local/sbin/haproxy"})
        if (executable(p))
            return p;
    return "";
}

namespace {

// Whether a socket listens on 127.0.0.1:port, from /proc/net/tcp: asked without
// connecting, since a connection through a balancer would be a client of the server.
bool listening_on(uint16_t port)
{
    std::ifstream f("/proc/net/tcp");
    char want[32];
    snprintf(want, sizeof want, "0100007F:%04X", port);
    for (std::string line; std::getline(f, line);)
        if (line.find(want) != std::string::npos && line.find(" 0A ") != std::string::npos)
            return true;
    return false;
}

// With EVCHAT_FRONT, a balancer in front of s's first address, 127.0.0.1 (tests of IPv6
// peers stay direct); clients connect to it.
void put_balancer_in_front(Server& s)
{
    std::string mode = front();
    REQUIRE_MESSAGE((mode == "haproxy-v1" || mode == "haproxy-v2"), "EVCHAT_FRONT is haproxy-v1 or haproxy-v2");
    uint16_t port = free_port();
    s.balancer = start_haproxy("frontend chat\n  bind 127.0.0.1:" + std::to_string(port) +
                                   "\n  default_backend evchat\nbackend evchat\n  server evchat 127.0.0.1:" +
                                   std::to_string(s.port()) + (mode == "haproxy-v1" ? " send-proxy\n" : " send-proxy-v2\n"),
                               {port});
    REQUIRE_MESSAGE(s.balancer, "EVCHAT_FRONT: haproxy is not installed");
    s.endpoints[0].port = port;
}

}  // namespace

std::unique_ptr<Server> start_haproxy(const std::string& config, const std::vector<uint16_t>& ports)
{
    std::string bin = haproxy_bin();
    if (bin.empty())
        return nullptr;
    auto file = std::make_unique<TempFile>("global\n  maxconn 4000\ndefaults\n  mode tcp\n  timeout connect 5s\n"
                                           "  timeout client 1h\n  timeout server 1h\n  timeout tunnel 1h\n" +
                                               config,
                                           ".cfg");
    std::unique_ptr<Server> h(new Server({bin, "-db", "-f", file->path()}));
    h->config = std::move(file);
    double deadline = now() + kTimeout;
    for (uint16_t p : ports)
        while (!listening_on(p)) {
            REQUIRE_MESSAGE((h->running() && now() < deadline), "haproxy did not listen on " << p << ":\n"
                                                                                             << h->output_tail());
            poll(nullptr, 0, 10);  // /proc cannot be waited on
        }
    return h;
}

std::unique_ptr<Server> start_evchat(const ServerOptions& opts)
{
    std::vector<std::string> argv{evchat_bin()};
    REQUIRE_MESSAGE(executable(argv[0]), "server binary not found: " << argv[0] << " (set EVCHAT_BIN)");
    std::unique_ptr<TempFile> config;
    // Behind a balancer, evchat trusts it (a [proxy] of the test's own wins).
    bool fronted = !front().empty() && !opts.listen.empty() && opts.listen[0].rfind("127.0.0.1:", 0) == 0;
    std::string text = opts.config;
    if (fronted && text.find("[proxy]") == std::string::npos)
        text += "\n[proxy]\ntrusted = [\"127.0.0.1\"]\n";
    if (!text.empty()) {
        config.reset(new TempFile(text));
        argv.push_back("--config");
        argv.push_back(config->path());
    }
    for (auto& l : opts.listen) {
        argv.push_back("--listen");
        argv.push_back(l);
    }
    std::unique_ptr<Server> s(new Server(argv, opts.nofile, opts.deny_io_uring));
    s->config = std::move(config);
    bool ok = s->wait_listening(opts.listen.size());
    REQUIRE_MESSAGE(ok, "evchat did not report listening; output:\n" << s->output_tail());
    if (fronted)
        put_balancer_in_front(*s);
    return s;
}

void stop_evchat(Server& s)
{
    REQUIRE_MESSAGE(s.running(), "evchat died during the test, status " << s.exit_status() << "; output:\n"
                                                                       << s.output_tail());
    s.signal(SIGTERM);
    bool exited = s.wait_exit(3 * kTimeout);
    CHECK_MESSAGE(exited, "evchat did not exit after SIGTERM; output:\n" << s.output_tail());
    CHECK_MESSAGE(s.exit_status() == 0, "evchat exit status " << s.exit_status() << "; output:\n"
                                                              << s.output_tail());
}

uint16_t free_port()
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    socklen_t len = sizeof sa;
    getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
    ::close(fd);
    return ntohs(sa.sin_port);
}

std::string redis_bin()
{
    for (const char* c : {"/usr/bin/redis-server", "/usr/local/bin/redis-server"})
        if (executable(c))
            return c;
    return "";
}

std::unique_ptr<Server> start_redis(uint16_t port, const std::vector<std::string>& extra)
{
    std::string bin = redis_bin();
    if (bin.empty())
        return nullptr;
    // A port picked free can be taken before redis binds it: then try another.
    for (int attempt = 0; attempt < 5; attempt++) {
        uint16_t p = port ? port : free_port();
        std::vector<std::string> argv{bin,          "--port",       std::to_string(p), "--bind", "127.0.0.1",
                                      "--save",     "",             "--appendonly",    "no",     "--daemonize",
                                      "no"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        std::unique_ptr<Server> s(new Server(argv));
        if (s->wait_output("Ready to accept connections")) {
            s->endpoints.push_back({"127.0.0.1", p});
            return s;
        }
        if (port)
            FAIL("redis-server did not start on port " << port << "; output:\n" << s->output_tail());
    }
    FAIL("redis-server did not start");
    return nullptr;
}

std::string redis_command(uint16_t port, const std::string& command)
{
    auto c = Conn::connect("127.0.0.1", port);
    REQUIRE_MESSAGE(c, "connect to redis on " << port);
    REQUIRE(c->send_all(command + "\r\n"));
    auto next = [&] {
        std::string line = c->read_line();
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        return line;
    };
    std::string line = next();
    if (line.empty() || line[0] != '$' || line == "$-1")
        return line;
    size_t len = std::stoul(line.substr(1));
    std::string bulk;  // its text may hold lines of its own
    while (bulk.size() < len && !c->ended()) {
        std::string more = c->read_line();
        if (is_mark(more))
            break;
        bulk += more + "\n";
    }
    if (bulk.size() > len)
        bulk.resize(len);
    return bulk;
}

std::unique_ptr<Server> start_gochat()
{
    std::string bin = gochat_bin();
    if (bin.empty())
        return nullptr;
    uint16_t port = free_port();
    std::unique_ptr<Server> s(new Server({bin, "-addr", "127.0.0.1:" + std::to_string(port)}));
    s->endpoints.push_back({"127.0.0.1", port});
    // gochat logs nothing when it listens: connect with a bounded retry. The first
    // connection stays in the room as a silent member, so that no probe's "has left"
    // can reach the test's clients.
    double deadline = now() + kTimeout;
    while (now() < deadline && s->running()) {
        auto c = Conn::connect("127.0.0.1", port, 0, 1.0);
        if (c) {
            std::string hello = c->read_line();
            REQUIRE_MESSAGE(hello == "You are " + c->addr(), "gochat greeting: " << hello);
            // Once the sentinel hears itself it is in the room, so its own arrival has
            // been broadcast (to nobody) and cannot reach the test's clients.
            settle(c.get(), *c);
            s->sentinel = std::move(c);
            return s;
        }
        usleep(10000); // retrying a refused connect, within a deadline
    }
    FAIL("gochat did not start; output:\n" << s->output_tail());
    return nullptr;
}

// ---- Room ----

std::string read_line_except(Conn& c, const Conn* sentinel, double timeout)
{
    double deadline = now() + timeout;
    for (;;) {
        std::string line = c.read_line(std::max(0.0, deadline - now()));
        if (!sentinel || line.compare(0, sentinel->addr().size() + 2, sentinel->addr() + ": ") != 0)
            return line;
    }
}

void settle(Conn* sentinel, Conn& newcomer)
{
    if (!sentinel)
        return;
    const std::string prefix = sentinel->addr() + ": sync ";
    for (int k = 0; k < 40; k++) {
        REQUIRE(sentinel->send_all("sync " + std::to_string(k) + "\n"));
        std::string line = newcomer.read_line(0.5);
        if (line == kTimedOut)
            continue;
        REQUIRE_MESSAGE(line.compare(0, prefix.size(), prefix) == 0, "unexpected line while settling: " << line);
        return;
    }
    FAIL("the newcomer never received the sentinel's lines");
}

Conn& Room::join(int rcvbuf)
{
    auto c = Conn::connect(host_, port_, rcvbuf);
    REQUIRE_MESSAGE(c, "connect to " << host_ << ":" << port_ << ": " << strerror(errno));
    std::string hello = c->read_line();
    REQUIRE(hello == "You are " + c->addr());
    for (auto& m : members_) {
        if (!m || m->fd() < 0 || m->ended()) // gone, or known to have been closed
            continue;
        std::string line = read(*m);
        REQUIRE(line == c->addr() + " has arrived");
    }
    settle(sentinel_, *c);
    members_.push_back(std::move(c));
    return *members_.back();
}

// ---- the seed's session ----

Transcripts seed_session(const std::string& host, const std::vector<uint16_t>& ports, Conn* sentinel)
{
    REQUIRE(ports.size() == 3);
    Transcripts t;
    Names names;
    auto rd = [&](Conn& c) { return read_line_except(c, sentinel); };
    auto A = Conn::connect(host, ports[0]);
    REQUIRE(A);
    names.push_back({A->addr(), "A"});
    t["A"].push_back(rd(*A));
    settle(sentinel, *A);

    auto B = Conn::connect(host, ports[1]);
    REQUIRE(B);
    names.push_back({B->addr(), "B"});
    t["B"].push_back(rd(*B));
    t["A"].push_back(rd(*A));
    settle(sentinel, *B);

    REQUIRE(A->send_all("Hi!\n"));
    t["A"].push_back(rd(*A));
    t["B"].push_back(rd(*B));

    REQUIRE(B->send_all("Hi yourself.\n"));
    t["A"].push_back(rd(*A));
    t["B"].push_back(rd(*B));

    A->close();
    t["B"].push_back(rd(*B));

    auto C = Conn::connect(host, ports[2]);
    REQUIRE(C);
    names.push_back({C->addr(), "C"});
    t["C"].push_back(rd(*C));
    t["B"].push_back(rd(*B));
    settle(sentinel, *C);

    REQUIRE(B->send_all("Welcome.\n"));
    t["B"].push_back(rd(*B));
    t["C"].push_back(rd(*C));

    B->close();
    t["C"].push_back(rd(*C));

    for (auto& kv : t)
        kv.second = normalize(kv.second, names);
    return t;
}

const Transcripts seed_expected = {
    {"A", {"You are A", "B has arrived", "A: Hi!", "B: Hi yourself."}},
    {"B", {"You are B", "A: Hi!", "B: Hi yourself.", "A has left", "C has arrived", "B: Welcome."}},
    {"C", {"You are C", "B: Welcome.", "B has left"}},
};

// ---- normalising ----

std::string normalize(const std::string& line, const Names& names)
{
    static const std::string you = "You are ";
    if (line.compare(0, you.size(), you) == 0) {
        std::string rest = line.substr(you.size());
        for (auto& n : names)
            if (rest == n.first)
                return you + n.second;
        return line;
    }
    // The longest address that starts the line and is followed by ": " or " has ".
    const std::pair<std::string, std::string>* best = nullptr;
    for (auto& n : names) {
        const std::string& a = n.first;
        if (line.compare(0, a.size(), a) != 0)
            continue;
        std::string after = line.substr(a.size());
        if (after.compare(0, 2, ": ") != 0 && after != " has arrived" && after != " has left")
            continue;
        if (!best || a.size() > best->first.size())
            best = &n;
    }
    if (best)
        return best->second + line.substr(best->first.size());
    return line;
}

std::vector<std::string> normalize(const std::vector<std::string>& lines, const Names& names)
{
    std::vector<std::string> out;
    for (auto& l : lines)
        out.push_back(normalize(l, names));
    return out;
}

} // namespace itest
