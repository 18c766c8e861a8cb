// systemd notification: the documented protocol is one datagram per state change to
// the AF_UNIX socket named by $NOTIFY_SOCKET ('@' means the abstract namespace).
#include "notify.h"

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

bool notify_systemd(const char* state, const char** err)
{
    const char* path = getenv("NOTIFY_SOCKET");
    if (!path || !*path)
        return true;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    size_t len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof addr.sun_path) {
        *err = "NOTIFY_SOCKET is not an absolute or abstract socket path";
        return false;
    }
    memcpy(addr.sun_path, path, len);
    if (path[0] == '@')
        addr.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = strerror(errno);
        return false;
    }
    socklen_t addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
    ssize_t sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
                          reinterpret_cast<sockaddr*>(&addr), addr_len);
    if (sent < 0)
        *err = strerror(errno);
    close(fd);
    return sent >= 0;
}
