// Cluster: the node's identity, and what its parts tell each other.
#include "cluster.h"

#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <sys/random.h>
#include <unistd.h>

namespace {

ClusterConfig with_node_name(ClusterConfig config)
{
    if (config.node.empty()) {
        char host[256] = "evchat";
        gethostname(host, sizeof host - 1);
        config.node = std::string(host) + "-" + std::to_string(getpid());
    }
    return config;
}

// A node restarted under the same name must not look like its earlier self, whose
// sequence numbers the other nodes remember.
std::string incarnation()
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r)
        r = static_cast<uint64_t>(time(nullptr)) << 20 ^ static_cast<uint64_t>(getpid());
    char hex[17];
    snprintf(hex, sizeof hex, "%016" PRIx64, r);
    return hex;
}

}  // namespace

Cluster::Cluster(struct ev_loop* loop, const ClusterConfig& config, Log& log, Broadcaster& room,
                 std::function<void()> on_change, std::function<void()> on_fenced)
    : config_(with_node_name(config)), origin_(config_.node + "/" + incarnation()), log_(log),
      on_change_(std::move(on_change)), link_(loop, log, *this, config_.redis, config_.timeout, config_.stream),
      relay_(link_, log, room, config_, origin_, *this),
      names_(link_, log, relay_, config_, origin_, std::move(on_fenced))
{
}

void Cluster::start()
{
    log_.write(LogLevel::info, "cluster: node %s (origin %s), stream %s on redis %s", config_.node.c_str(),
               origin_.c_str(), config_.stream.c_str(), config_.redis.c_str());
    link_.start();
}

void Cluster::flush()
{
    relay_.flush();
    names_.send_releases();
}

void Cluster::link_connected()
{
    relay_.resume_reading();
}

// Clients stop being read (TCP holds them back) until the link is back; nothing
// unacknowledged is forgotten.
void Cluster::link_lost()
{
    relay_.link_lost();
    names_.link_lost();
    on_change_();
}

std::string Cluster::link_watch(double now)
{
    std::string why = relay_.stalled(now);
    if (why.empty() && link_.up() && names_.tick_due(now))
        names_.tick();
    return why;
}

void Cluster::relay_up()
{
    names_.tick();
}

void Cluster::readable_changed()
{
    on_change_();
}

void Cluster::buried()
{
    names_.fence();
}
