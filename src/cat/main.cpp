// evchat-cat: the book's netcat3, done right. Copies standard input to a chat server and
// the server's lines to standard output; owns its descriptors and, with --tls, the TLS session.
//
// Unlike netcat3, at the end of input it only half-closes the connection and keeps
// printing until the server closes it, so nothing the server sent is lost; and it writes
// only whole lines to standard output, so server lines never mix with each other.
#include "tls_client.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <netdb.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace {

const char usage[] =
    "usage: evchat-cat HOST:PORT\n"
    "       evchat-cat --tls [--insecure] HOST:PORT\n"
    "Copies standard input to the chat server and its lines to standard output. At the end\n"
    "of input it half-closes and waits for the server to close. Exit status: 0 when the\n"
    "server closed the connection, 1 on a connection error (a failed TLS handshake or\n"
    "certificate check too), 2 on bad usage.\n"
    "\n"
    "  --tls       speak TLS (1.2 or later). The server's certificate must lead to the\n"
    "              system's store (SSL_CERT_FILE or SSL_CERT_DIR replace it) and name HOST.\n"
    "              At the end of input it sends close_notify, then half-closes.\n"
    "  --insecure  with --tls: accept any certificate (self-signed, another host's)\n";

// A server that takes the connection but never answers the ClientHello is not one to
// chat with.
constexpr double handshake_seconds = 10;

int fail(const std::string& what)
{
    fprintf(stderr, "evchat-cat: %s\n", what.c_str());
    return 1;
}

// target must look like HOST:PORT (checked by the caller); HOST may be in brackets.
void split_target(const std::string& target, std::string& host, std::string& port)
{
    size_t colon = target.rfind(':');
    host = target.substr(0, colon);
    port = target.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    if (host.empty())
        host = "localhost";
}

int connect_to(const std::string& target, std::string& err)
{
    std::string host, port;
    split_target(target, host, port);
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
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

using Io = TlsStream::Io;

// The connection to the server: its non-blocking socket, and TLS over it with --tls. Each
// call does what it can now; a want says what to poll for before the call is made again.
struct Link {
    int fd;
    std::unique_ptr<TlsStream> tls;
    std::string error;  // why the last call failed

    Io read(char* buf, size_t cap, size_t& got)
    {
        if (tls)
            return checked(tls->read(buf, cap, got));
        ssize_t n = ::read(fd, buf, cap);
        got = n > 0 ? static_cast<size_t>(n) : 0;
        return n > 0 ? Io::done : n == 0 ? Io::closed : plain_error(Io::want_read);
    }
    Io write(const char* p, size_t len, size_t& put)
    {
        if (tls)
            return checked(tls->write(p, len, put));
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        put = n > 0 ? static_cast<size_t>(n) : 0;
        return n >= 0 ? Io::done : plain_error(Io::want_write);
    }
    // The end of our data: TLS's close_notify first (so that the server can tell it from a
    // cut connection), then the half-close. A failure here shows in the next read.
    Io end_output()
    {
        if (tls) {
            Io io = tls->close_notify();
            if (io == Io::want_read || io == Io::want_write)
                return io;
        }
        shutdown(fd, SHUT_WR);
        return Io::done;
    }
    // Bytes TLS holds already: read them without waiting for the socket.
    bool pending() const { return tls && tls->pending(); }

private:
    Io checked(Io io)
    {
        if (io == Io::failed)
            error = tls->error();
        return io;
    }
    Io plain_error(Io want)
    {
        if (errno == EAGAIN || errno == EINTR)
            return want;
        error = strerror(errno);
        return Io::failed;
    }
};

}  // namespace

int main(int argc, char** argv)
{
    std::string target;
    bool tls = false, insecure = false, bad = false;
    for (int i = 1; i < argc; i++) {
        std::string arg = argv[i];
        if (arg == "--help") {
            fputs(usage, stdout);
            return 0;
        }
        if (arg == "--tls")
            tls = true;
        else if (arg == "--insecure")
            insecure = true;
        else if (arg[0] == '-' || !target.empty())
            bad = true;
        else
            target = arg;
    }
    if (bad || target.empty()) {
        fputs(usage, stderr);
        return 2;
    }
    if (insecure && !tls) {
        fprintf(stderr, "evchat-cat: --insecure goes with --tls\n%s", usage);
        return 2;
    }
    size_t colon = target.rfind(':');
    if (colon == std::string::npos || colon + 1 == target.size()) {
        fprintf(stderr, "evchat-cat: %s: expected HOST:PORT\n%s", target.c_str(), usage);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    std::unique_ptr<TlsClient> client;
    if (tls) {
        client = std::make_unique<TlsClient>(!insecure);
        if (!client->ok())
            return fail(client->error());
    }
    std::string err;
    Link link{connect_to(target, err), nullptr, ""};
    if (link.fd < 0)
        return fail(err);
    fcntl(link.fd, F_SETFL, fcntl(link.fd, F_GETFL) | O_NONBLOCK);
    if (client) {
        std::string host, port;
        split_target(target, host, port);
        link.tls = std::make_unique<TlsStream>(*client, link.fd, host);
        if (!link.tls->handshake_within(handshake_seconds))
            return fail(target + ": TLS: " + link.tls->error());
    }

    std::string to_server;    // read from stdin, not yet sent
    std::string from_server;  // received, not yet a whole line
    bool input_open = true;
    bool output_ended = false;  // our end of input went to the server
    short read_waits = POLLIN, write_waits = POLLOUT;  // what the last want asked for
    char buf[64 * 1024];
    for (;;) {
        // Read stdin only when what it gave is sent: the server may be holding our input
        // back (backpressure) while we must keep reading what it says.
        bool owe_write = !to_server.empty() || (!input_open && !output_ended);
        pollfd fds[2] = {{link.fd, static_cast<short>(read_waits | (owe_write ? write_waits : 0)), 0},
                         {STDIN_FILENO, POLLIN, 0}};
        int nfds = input_open && to_server.empty() ? 2 : 1;
        if (poll(fds, nfds, link.pending() ? 0 : -1) < 0) {
            if (errno == EINTR)
                continue;
            return fail(std::string("poll: ") + strerror(errno));
        }
        // Both directions are tried on any event: with TLS a read may wait for
        // writability and a write for readability, and a try that cannot go on says so.
        if (fds[0].revents || link.pending()) {
            size_t n = 0;
            Io io = link.read(buf, sizeof buf, n);
            read_waits = POLLIN;
            if (io == Io::failed)
                return fail(target + ": " + link.error);
            if (io == Io::closed) {
                write_all(STDOUT_FILENO, from_server.data(), from_server.size());
                return 0;
            }
            if (io == Io::done) {
                from_server.append(buf, n);
                size_t whole = from_server.rfind('\n') + 1;  // 0 if none
                if (!write_all(STDOUT_FILENO, from_server.data(), whole))
                    return fail(std::string("standard output: ") + strerror(errno));
                from_server.erase(0, whole);
            } else {
                read_waits = TlsStream::poll_events(io);
            }
            if (!to_server.empty()) {
                io = link.write(to_server.data(), to_server.size(), n);
                write_waits = POLLOUT;
                if (io == Io::failed)
                    return fail(target + ": " + link.error);
                if (io == Io::done)
                    to_server.erase(0, n);
                else
                    write_waits = TlsStream::poll_events(io);
            }
            if (to_server.empty() && !input_open && !output_ended) {
                io = link.end_output();
                output_ended = io == Io::done;
                write_waits = output_ended ? POLLOUT : TlsStream::poll_events(io);
            }
        }
        if (nfds == 2 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
            if (n > 0) {
                to_server.assign(buf, static_cast<size_t>(n));
            } else if (n == 0 || errno != EINTR) {
                // The server sees our end of input (after what is still unsent); we keep reading.
                input_open = false;
            }
        }
    }
}
