// Name registry: who may take which name ([room] names), asked before a newcomer takes one
// or a member renames. Owned by the server; alone it answers from the room (LocalNames),
// in a cluster from Redis (ClusterNames, cluster_names.h).
#pragma once

#include <cstdint>
#include <string>

class Broadcaster;

class NameRegistry {
public:
    // Who asked: hears the answer, at once or later (when Redis is away, once it is back).
    class Claimant {
    public:
        // claim is the id claim() returned; ok: the name is the claimant's from now on,
        // held under that id until release(claim).
        virtual void named(uint64_t claim, const std::string& name, bool ok) = 0;

    protected:
        ~Claimant() = default;
    };

    virtual ~NameRegistry() = default;
    // Asks for name for who; returns the claim's id. If the answer does not come at once,
    // who must cancel the claim before it goes away.
    virtual uint64_t claim(Claimant& who, const std::string& name) = 0;
    // The claimant is gone: no answer, and a name the claim gets is given back unasked.
    virtual void cancel(uint64_t claim) = 0;
    // Gives back the name claim got, once the room has heard its holder leave (or rename).
    virtual void release(uint64_t claim) = 0;
};

// A single node: a name is free if nobody in the room has it. Answers at once.
class LocalNames final : public NameRegistry {
public:
    explicit LocalNames(const Broadcaster& room) : room_(room) {}
    uint64_t claim(Claimant& who, const std::string& name) override;
    void cancel(uint64_t) override {}
    void release(uint64_t) override {}

private:
    const Broadcaster& room_;
    uint64_t next_claim_ = 1;
};
