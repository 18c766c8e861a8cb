// Socket addresses: "HOST:PORT" parsed for listening, and peers formatted as Go prints them.
// Pure functions with no name service: hosts are numeric, "localhost", or empty.
#pragma once

#include <string>
#include <string_view>
#include <sys/socket.h>

struct ListenAddress {
    sockaddr_storage addr{};
    socklen_t len = 0;
    bool dual_stack = false;  // "[::]" or an empty host: accept IPv4 peers as well
};

// Accepts "127.0.0.1:8000", "[::1]:8000", "localhost:8000" (127.0.0.1, as Go listens),
// ":8000" (every interface, IPv4 and IPv6). On failure returns false and sets err.
bool parse_listen_address(std::string_view text, ListenAddress& out, std::string& err);

// Go's net.TCPAddr.String(): "127.0.0.1:54321", "[::1]:54321", "[fe80::1%eth0]:80";
// an IPv4-mapped IPv6 address prints as plain IPv4.
std::string format_address(const sockaddr* sa);

// ADDR without its port: what the per-address limits count ("[::1]:5" gives "[::1]").
inline std::string host_of(const std::string& addr)
{
    return addr.substr(0, addr.rfind(':'));
}
