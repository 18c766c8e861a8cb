// Health check client for containers (`evchat --healthcheck HOST:PORT`): no shell, no
// name service. Stateless; main runs it instead of the server.
#pragma once

#include <string>

// Connects, reads the first line, and accepts it if it is "You are ...". Returns the
// process exit status (0 healthy, 1 not) and says why in message.
int run_healthcheck(const std::string& target, double timeout_seconds, std::string& message);
