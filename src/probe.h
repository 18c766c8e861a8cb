// Probes: command-line clients of a running evchat, `--healthcheck` and `--stats`.
// Stateless; main runs one of them instead of the server.
#pragma once

#include <string>

// Each is one connection within a deadline, and needs no shell and no name service, so
// that it runs in an empty container.

// Connects, reads the first line, and accepts evchat's greeting: "You are ...", or
// "Your name?" with [room] names. Returns the process exit status (0 healthy, 1 not)
// and says why in message. target is HOST:PORT; tls://HOST:PORT speaks TLS (a [tls]
// listener) and takes any certificate, tls+verify://HOST:PORT checks it against the
// system's store (SSL_CERT_FILE stands in for it) and HOST. The handshake is within the
// same deadline.
int run_healthcheck(const std::string& target, double timeout_seconds, std::string& message);

// GET /metrics from an admin listener, as an aligned table in table. Returns the exit
// status (0 with a 200 answer, 1 otherwise, message saying why).
int run_stats(const std::string& target, double timeout_seconds, std::string& table, std::string& message);
