// IP addresses and ranges: a client's address as the access lists and the connect rate see
// it, and the CIDR ranges of [proxy] and [access]. Pure; each list is owned by its user.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

// An IPv4 or IPv6 address; an IPv4-mapped IPv6 address is its IPv4 address, so that a
// dual-stack listener's peers match IPv4 rules.
struct IpAddress {
    bool v4 = true;
    std::array<uint8_t, 16> bytes{};  // IPv4 in the first 4

    bool operator==(const IpAddress&) const = default;
};

struct IpAddressHash {
    size_t operator()(const IpAddress& a) const;
};

// A numeric address: "192.0.2.1", "2001:db8::1", "[2001:db8::1]", "fe80::1%eth0" (the zone
// is not part of the address). False for anything else.
bool parse_ip(std::string_view text, IpAddress& out);
// The address in an ADDR as Go prints it ("192.0.2.1:5", "[::1]:5").
bool parse_ip_of_addr(std::string_view addr, IpAddress& out);

class IpRanges {
public:
    // "CIDR" entries: "10.0.0.0/8", "2001:db8::/32", or a bare address (the address alone).
    // Host bits set below the prefix are refused: "10.0.0.1/8" is more likely a typo than
    // a range. On failure returns false and err names the entry.
    static bool parse(const std::vector<std::string>& texts, IpRanges& out, std::string& err);

    bool contains(const IpAddress& a) const;
    bool empty() const { return ranges_.empty(); }

private:
    struct Range {
        IpAddress base;
        unsigned bits;
    };
    std::vector<Range> ranges_;
};

struct sockaddr;
// A socket's IP address; false for other families.
bool ip_of(const sockaddr* sa, IpAddress& out);
