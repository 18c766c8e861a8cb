// Access policy: deny first, then allow, then the rate.
#include "access_policy.h"

#include <cassert>

void AccessPolicy::configure(const AccessConfig& config)
{
    std::string err;
    bool ok = IpRanges::parse(config.allow, allow_, err) && IpRanges::parse(config.deny, deny_, err);
    assert(ok);  // parse_config checked them
    (void)ok;
    rate_.configure(config.connect_rate, config.connect_burst);
}

bool AccessPolicy::allowed(const IpAddress& ip) const
{
    return !deny_.contains(ip) && (allow_.empty() || allow_.contains(ip));
}

AccessPolicy::Verdict AccessPolicy::check(const IpAddress& ip, double now)
{
    if (!allowed(ip))
        return Verdict::denied;
    return rate_.take(ip, now) ? Verdict::admit : Verdict::too_fast;
}

const char* refusal_text(AccessPolicy::Verdict v)
{
    switch (v) {
    case AccessPolicy::Verdict::denied: return "access denied";
    case AccessPolicy::Verdict::too_fast: return "too many connections from your address, slow down";
    case AccessPolicy::Verdict::admit: break;
    }
    return "";
}
