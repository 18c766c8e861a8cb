// systemd readiness notification (sd_notify without libsystemd): a datagram to
// $NOTIFY_SOCKET. Stateless; main calls it at start, reload and stop.
#pragma once

// Sends state ("READY=1", "STOPPING=1", ...) if NOTIFY_SOCKET is set. Returns false only
// if it was set and the message could not be sent; err then says why.
bool notify_systemd(const char* state, const char** err);
