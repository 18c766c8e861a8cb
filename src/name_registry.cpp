// Name registry: the single node's answer, from the room's members.
#include "name_registry.h"

#include "broadcaster.h"

uint64_t LocalNames::claim(Claimant& who, const std::string& name)
{
    uint64_t id = next_claim_++;
    who.named(id, name, !room_.has_member_named(name));
    return id;
}
