// Refusals: connections turned away before they enter the room (server full, too many
// from one address). Each gets one error line and the close every connection gets; owned
// here until closed.
#pragma once

#include "connection.h"
#include "slots.h"

#include <string>
#include <vector>

class Refusals {
public:
    explicit Refusals(Io& io);
    ~Refusals();
    Refusals(const Refusals&) = delete;
    Refusals& operator=(const Refusals&) = delete;

    // Sends line on fd and closes it, within `seconds` if the peer does not read.
    void refuse(Socket socket, std::string peer, std::string line, double seconds);
    // Destroys the refusals that have closed; after a callback, never inside one.
    void destroy_closed();

private:
    class Refusal;

    Io& io_;
    Slots<Refusal> open_;
    std::vector<Refusal*> closed_;
};
