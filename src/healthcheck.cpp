// Health check: one connection, one line, within a deadline.
#include "healthcheck.h"

#include "address.h"

#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

namespace {

double now()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

// Waits for events on fd until the deadline; false on timeout or error.
bool wait_for(int fd, short events, double deadline)
{
    for (;;) {
        double left = deadline - now();
        if (left <= 0)
            return false;
        pollfd p{fd, events, 0};
        int r = poll(&p, 1, static_cast<int>(left * 1000) + 1);
        if (r > 0)
            return true;
        if (r == 0 || errno != EINTR)
            return false;
    }
}

}  // namespace

int run_healthcheck(const std::string& target, double timeout_seconds, std::string& message)
{
    ListenAddress where;
    if (!parse_listen_address(target, where, message))
        return 1;
    auto* sa = reinterpret_cast<sockaddr*>(&where.addr);
    // An empty host means "this machine": check over loopback.
    if (where.dual_stack)
        reinterpret_cast<sockaddr_in6*>(sa)->sin6_addr = in6addr_loopback;
    double deadline = now() + timeout_seconds;
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        message = std::string("socket: ") + strerror(errno);
        return 1;
    }
    int status = 1;
    std::string line;
    if (connect(fd, sa, where.len) < 0 && errno != EINPROGRESS) {
        message = target + ": " + strerror(errno);
    } else if (!wait_for(fd, POLLOUT, deadline)) {
        message = target + ": connect timed out";
    } else {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        if (soerr) {
            message = target + ": " + strerror(soerr);
        } else {
            char buf[256];
            while (line.find('\n') == std::string::npos && line.size() < sizeof buf) {
                if (!wait_for(fd, POLLIN, deadline)) {
                    message = target + ": no greeting in time";
                    break;
                }
                ssize_t n = read(fd, buf, sizeof buf);
                if (n <= 0) {
                    message = target + ": closed before the greeting";
                    break;
                }
                line.append(buf, static_cast<size_t>(n));
            }
            if (line.rfind("You are ", 0) == 0 && line.find('\n') != std::string::npos) {
                message = target + ": ok";
                status = 0;
            } else if (message.empty()) {
                message = target + ": unexpected greeting";
            }
        }
    }
    close(fd);
    return status;
}
