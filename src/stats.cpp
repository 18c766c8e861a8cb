// Stats: names of the leave reasons and the transports.
#include "stats.h"

const char* leave_reason_name(LeaveReason reason)
{
    static const char* const names[] = {"eof",   "reset", "idle",        "slow_consumer", "line_too_long",
                                        "flood", "quit",  "write_error", "protocol_error", "access", "input_memory"};
    static_assert(sizeof names / sizeof names[0] == static_cast<size_t>(LeaveReason::count));
    return names[static_cast<size_t>(reason)];
}

const char* transport_name(Transport t)
{
    static const char* const names[] = {"tcp", "websocket", "tls", "wss"};
    static_assert(sizeof names / sizeof names[0] == static_cast<size_t>(Transport::count));
    return names[static_cast<size_t>(t)];
}
