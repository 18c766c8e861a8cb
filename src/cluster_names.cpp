// Cluster names: claims, releases, and the lease tick with its sweep.
#include "cluster_names.h"

#include "lua_scripts.h"

#include <cassert>
#include <set>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <hiredis/hiredis.h>
#pragma GCC diagnostic pop

namespace {

// Whatever was in flight on a lost link goes out again first, in its order.
template <class T>
void requeue(std::deque<T>& inflight, std::deque<T>& waiting)
{
    waiting.insert(waiting.begin(), std::make_move_iterator(inflight.begin()), std::make_move_iterator(inflight.end()));
    inflight.clear();
}

}  // namespace

ClusterNames::ClusterNames(RedisLink& link, Log& log, StreamRelay& relay, const ClusterConfig& config,
                           const std::string& origin, std::function<void()> on_fenced)
    : link_(link), log_(log), relay_(relay), config_(config), origin_(origin), on_fenced_(std::move(on_fenced)),
      lease_ms_(std::to_string(static_cast<long long>(config.lease * 1000)))
{
}

uint64_t ClusterNames::claim(Claimant& who, const std::string& name)
{
    uint64_t id = next_claim_++;
    claimants_[id] = &who;
    claims_waiting_.push_back({id, name});
    if (relay_.sending())
        send_claims();
    return id;
}

void ClusterNames::cancel(uint64_t claim)
{
    claimants_.erase(claim);
    for (auto it = claims_waiting_.begin(); it != claims_waiting_.end(); ++it)
        if (it->id == claim) {
            claims_waiting_.erase(it);
            return;
        }
}

void ClusterNames::release(uint64_t claim)
{
    auto it = held_.find(claim);
    assert(it != held_.end());
    releases_waiting_.push_back({claim, std::move(it->second)});
    held_.erase(it);
}

// Runs script on each waiting name's key and holder (and the lease, which only the hold
// script reads), in order, and keeps each in flight until answered.
void ClusterNames::send(std::deque<Claim>& waiting, std::deque<Claim>& inflight, const std::string& script,
                        RedisCallback answered)
{
    for (; !waiting.empty(); waiting.pop_front()) {
        const Claim& c = waiting.front();
        std::string key = name_key(c.name), value = holder(c.id);
        link_.write(RedisArgs().add("EVAL").add(script).add("1").add(key).add(value).add(lease_ms_), answered, this);
        inflight.push_back(std::move(waiting.front()));
    }
}

void ClusterNames::send_claims()
{
    send(claims_waiting_, claims_inflight_, lua::hold, on_claim);
}

void ClusterNames::send_releases()
{
    if (relay_.sending())
        send(releases_waiting_, releases_inflight_, lua::release, on_released);
}

void ClusterNames::on_claim(redisAsyncContext* c, void* r, void* privdata)
{
    redisReply* reply = RedisLink::answer(c, r, "EVAL (claiming a name)");
    if (!reply)
        return;
    auto* self = static_cast<ClusterNames*>(privdata);
    assert(!self->claims_inflight_.empty());
    Claim claim = std::move(self->claims_inflight_.front());
    self->claims_inflight_.pop_front();
    bool ok = reply->type == REDIS_REPLY_INTEGER && reply->integer == 0;
    if (ok)
        self->held_[claim.id] = claim.name;
    auto who = self->claimants_.find(claim.id);
    if (who != self->claimants_.end()) {
        Claimant* claimant = who->second;
        self->claimants_.erase(who);
        claimant->named(claim.id, claim.name, ok);
    } else if (ok) {
        self->release(claim.id);  // its claimant went meanwhile
    }
}

void ClusterNames::on_released(redisAsyncContext* c, void* r, void* privdata)
{
    if (!RedisLink::answer(c, r, "EVAL (releasing a name)"))
        return;
    auto* self = static_cast<ClusterNames*>(privdata);
    assert(!self->releases_inflight_.empty());
    self->releases_inflight_.pop_front();  // 0: the lease had run out, and another has it now
}

void ClusterNames::link_lost()
{
    requeue(claims_inflight_, claims_waiting_);
    requeue(releases_inflight_, releases_waiting_);
}

void ClusterNames::tick()
{
    ticked_at_ = link_.now();
    // Only a node whose link has lasted a whole lease sweeps: after an outage of Redis
    // itself every lease has run out, and the others must have had the time to renew.
    bool may_sweep = ticked_at_ - link_.up_since() >= config_.lease;
    // Before the vetting, batches in flight may or may not have run: the member set is
    // left as it is (the tick that follows the vetting gives it).
    bool exact = relay_.vetted();
    std::vector<std::string> keys, args{origin_, config_.stream, lease_ms_, std::to_string(config_.maxlen),
                                        may_sweep ? "1" : "0", exact ? "1" : "0"};
    for (const auto& [id, name] : held_) {
        keys.push_back(name_key(name));
        args.push_back(holder(id));
    }
    if (exact)
        for (const std::string& name : relay_.members_in_redis())
            args.push_back(name);
    std::string count = std::to_string(keys.size());
    RedisArgs command;
    command.add("EVAL").add(lua::tick).add(count);
    for (const std::vector<std::string>* part : {&keys, &args})
        for (const std::string& a : *part)
            command.add(a);
    link_.write(command, on_ticked, this);
}

void ClusterNames::on_ticked(redisAsyncContext* c, void* r, void* privdata)
{
    redisReply* reply = RedisLink::answer(c, r, "EVAL (lease tick)");
    if (!reply)
        return;
    auto* self = static_cast<ClusterNames*>(privdata);
    auto integer = [&](size_t i) { return i < reply->elements && reply->element[i]->type == REDIS_REPLY_INTEGER; };
    if (reply->type != REDIS_REPLY_ARRAY || !integer(0) || !integer(1)) {
        self->log_.write(LogLevel::error, "cluster: lease tick: unexpected reply");
        return;
    }
    if (long long taken = reply->element[0]->integer)
        self->log_.write(LogLevel::warn,
                         "cluster: %lld names of this node's members are held by another node now (the lease "
                         "ran out while Redis was away): the room has two members of each name",
                         taken);
    if (reply->element[1]->integer == 1) {
        self->fence();
        return;
    }
    if (!self->relay_.vetted()) {
        self->relay_.vet();       // what waited in flight, then the rest
        self->send_releases();    // after the leaves
        self->send_claims();
        self->tick();             // after them: the member set as they leave it
    }
    for (size_t i = 2; i + 1 < reply->elements; i += 2)
        if (is_string(reply->element[i]) && integer(i + 1))
            self->swept(reply->element[i]->str, reply->element[i + 1]->integer);
}

// A node gone without a word: its members' leaves, which nobody else would say, are in
// the stream now, and come back to every node like any entry.
void ClusterNames::swept(const char* origin, long long members)
{
    if (members == 0)
        log_.write(LogLevel::info, "cluster: node %s is gone (no lease renewed for %g s), with no members left",
                   origin, config_.lease);
    else
        log_.write(LogLevel::warn,
                   "cluster: node %s renewed no lease for %g s: taken for dead; telling the room its %lld members left",
                   origin, config_.lease, members);
}

// What this node says now would reach nobody, so it stops, and its clients find a live
// node.
void ClusterNames::fence()
{
    if (fenced_)
        return;
    fenced_ = true;
    log_.write(LogLevel::error,
               "cluster: this node was taken for dead (no lease renewed for %g s: cut off from redis, or paused), "
               "and the room was told its members left; exiting so that its clients reconnect",
               config_.lease);
    on_fenced_();
}
