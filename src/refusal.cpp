// Refusals: the connection with one line to say.
#include "refusal.h"

#include <utility>

class Refusals::Refusal final : public Connection {
public:
    Refusal(Refusals& owner, Socket socket, std::string peer)
        : Connection(owner.io_, std::move(socket), std::move(peer)), owner_(owner)
    {
    }

    void say(std::string line, double seconds)
    {
        out().push(std::move(line), 0);
        close_after_output(seconds);
        flush();  // a fresh socket's buffer takes one short line at once
    }

private:
    friend class Slots<Refusal>;

    bool wants_input() const override { return false; }
    void received(const char*, size_t) override {}
    void input_ended(bool) override {}
    void closed_now() override { owner_.closed_.push_back(this); }

    Refusals& owner_;
    size_t slot_ = 0;
};

Refusals::Refusals(Io& io) : io_(io) {}

Refusals::~Refusals() = default;

void Refusals::refuse(Socket socket, std::string peer, std::string line, double seconds)
{
    open_.add(std::make_unique<Refusal>(*this, std::move(socket), std::move(peer))).say(std::move(line), seconds);
}

void Refusals::destroy_closed()
{
    for (Refusal* r : closed_)
        open_.remove(*r);
    closed_.clear();
}
