// evchat-cat: the book's netcat3, done right. Copies standard input to a chat server and
// the server's lines to standard output; owns nothing but its two descriptors.
//
// Unlike netcat3, at the end of input it only half-closes the connection and keeps
// printing until the server closes it, so nothing the server sent is lost; and it writes
// only whole lines to standard output, so server lines never mix with each other.
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <netdb.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace {

const char usage[] =
    "usage: evchat-cat HOST:PORT\n"
    "Copies standard input to the chat server and its lines to standard output. At the end\n"
    "of input it half-closes and waits for the server to close. Exit status: 0 when the\n"
    "server closed the connection, 1 on a connection error, 2 on bad usage.\n";

int fail(const std::string& what)
{
    fprintf(stderr, "evchat-cat: %s\n", what.c_str());
    return 1;
}

// target must look like HOST:PORT (checked by the caller).
int connect_to(const std::string& target, std::string& err)
{
    size_t colon = target.rfind(':');
    std::string host = target.substr(0, colon), port = target.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    int rc = getaddrinfo(host.empty() ? "localhost" : host.c_str(), port.c_str(), &hints, &found);
    if (rc != 0) {
        err = target + ": " + gai_strerror(rc);
        return -1;
    }
    int fd = -1;
    for (addrinfo* ai = found; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            err = target + ": " + strerror(errno);
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(found);
    return fd;
}

bool write_all(int fd, const char* p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return false;
        p += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fputs(usage, argc == 2 && !strcmp(argv[1], "--help") ? stdout : stderr);
        return argc == 2 && !strcmp(argv[1], "--help") ? 0 : 2;
    }
    std::string target = argv[1];
    size_t colon = target.rfind(':');
    if (colon == std::string::npos || colon + 1 == target.size()) {
        fprintf(stderr, "evchat-cat: %s: expected HOST:PORT\n%s", target.c_str(), usage);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    std::string err;
    int sock = connect_to(target, err);
    if (sock < 0)
        return fail(err);

    std::string to_server;    // read from stdin, not yet sent
    std::string from_server;  // received, not yet a whole line
    bool input_open = true;
    char buf[64 * 1024];
    for (;;) {
        // Read stdin only when what it gave is sent: the server may be holding our input
        // back (backpressure) while we must keep reading what it says.
        pollfd fds[2] = {{sock, static_cast<short>(POLLIN | (to_server.empty() ? 0 : POLLOUT)), 0},
                         {STDIN_FILENO, POLLIN, 0}};
        int nfds = input_open && to_server.empty() ? 2 : 1;
        if (poll(fds, nfds, -1) < 0) {
            if (errno == EINTR)
                continue;
            return fail(std::string("poll: ") + strerror(errno));
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(sock, buf, sizeof buf);
            if (n < 0 && errno != EINTR && errno != EAGAIN)
                return fail(std::string(argv[1]) + ": " + strerror(errno));
            if (n == 0) {
                write_all(STDOUT_FILENO, from_server.data(), from_server.size());
                return 0;
            }
            if (n > 0) {
                from_server.append(buf, static_cast<size_t>(n));
                size_t whole = from_server.rfind('\n') + 1;  // 0 if none
                if (!write_all(STDOUT_FILENO, from_server.data(), whole))
                    return fail(std::string("standard output: ") + strerror(errno));
                from_server.erase(0, whole);
            }
        }
        if (!to_server.empty() && (fds[0].revents & POLLOUT)) {
            ssize_t n = send(sock, to_server.data(), to_server.size(), MSG_DONTWAIT);
            if (n < 0 && errno != EAGAIN && errno != EINTR)
                return fail(std::string(argv[1]) + ": " + strerror(errno));
            if (n > 0)
                to_server.erase(0, static_cast<size_t>(n));
            if (to_server.empty() && !input_open)
                shutdown(sock, SHUT_WR);
        }
        if (nfds == 2 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
            if (n > 0) {
                to_server.assign(buf, static_cast<size_t>(n));
            } else if (n == 0 || errno != EINTR) {
                input_open = false;
                shutdown(sock, SHUT_WR);  // the server sees our end of input; we keep reading
            }
        }
    }
}
