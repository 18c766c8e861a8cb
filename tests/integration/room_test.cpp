// The opt-in room features over real sockets: names ([room] names), the roster
// ([room] roster) and slash commands ([room] commands); and that with none of them a
// line starting with '/' is the seed's ordinary line.
//
// "Only to the sender" is checked without waiting for silence: a third party says a
// marker line, and it must be the other client's very next line.
#include "harness.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

using namespace itest;

namespace {

std::string room_config(bool names, bool roster, bool commands, const std::string& extra = "")
{
    auto b = [](bool v) { return v ? "true" : "false"; };
    return std::string("[room]\nnames = ") + b(names) + "\nroster = " + b(roster) + "\ncommands = " +
           b(commands) + "\n" + extra;
}

std::unique_ptr<Server> start_room(bool names, bool roster, bool commands, const std::string& extra = "")
{
    ServerOptions opts;
    opts.config = room_config(names, roster, commands, extra);
    return start_evchat(opts);
}

std::unique_ptr<Conn> connect_to(const Server& srv)
{
    auto c = Conn::connect("127.0.0.1", srv.port());
    REQUIRE_MESSAGE(c, "connect: " << strerror(errno));
    return c;
}

// Connects, answers "Your name?" with `name` and checks "You are NAME". Each member of
// `room` (still connected) must then hear "NAME has arrived" as its next line.
std::unique_ptr<Conn> join_as(const Server& srv, const std::string& name,
                              const std::vector<Conn*>& room = {})
{
    auto c = connect_to(srv);
    REQUIRE(c->read_line() == "Your name?");
    REQUIRE(c->send_all(name + "\n"));
    REQUIRE(c->read_line() == "You are " + name);
    for (Conn* m : room)
        REQUIRE(m->read_line() == name + " has arrived");
    return c;
}

// `who` says `text`; every client in `all` must receive `who_name: text` next.
void say_marker(Conn& who, const std::string& who_name, const std::string& text,
                const std::vector<Conn*>& all)
{
    REQUIRE(who.send_all(text + "\n"));
    for (Conn* c : all)
        CHECK(c->read_line() == who_name + ": " + text);
}

// The roster a server cut to max_line must be: as many names as fit (in arrival order)
// with the count of the others after them.
void check_truncated_roster(const std::string& line, const std::vector<std::string>& present,
                            size_t max_line)
{
    CAPTURE(line);
    CHECK(line.size() + 1 <= max_line);
    const std::string head = "Present (" + std::to_string(present.size()) + "):";
    std::string expected;
    for (size_t shown = present.size() - 1; expected.empty(); shown--) {
        std::string candidate = head;
        for (size_t i = 0; i < shown; i++)
            candidate += " " + present[i] + ",";
        candidate += " ... (" + std::to_string(present.size() - shown) + " more)";
        if (candidate.size() + 1 <= max_line || shown == 0)
            expected = candidate;
    }
    CHECK(line == expected);
    CHECK(line.find(present[0]) != std::string::npos); // the limit leaves room for a name here
}

} // namespace

// ---- names ----

TEST_CASE("room names: the newcomer is asked its name, then the room says NAME where it said ADDR")
{
    auto srv = start_room(true, false, false);
    INFO("server output: " << srv->output_tail());
    auto A = join_as(*srv, "alice");
    auto B = join_as(*srv, "bob", {A.get()});
    say_marker(*A, "alice", "hi bob", {A.get(), B.get()});
    say_marker(*B, "bob", "hi alice", {A.get(), B.get()});
    CHECK(srv->wait_output(A->addr() + " is named alice"));
    CHECK(srv->wait_output(B->addr() + " is named bob"));
    B->close();
    CHECK(A->read_line() == "bob has left");
    stop_evchat(*srv);
}

TEST_CASE("room names: an invalid name gets error: invalid name and the question again")
{
    auto srv = start_room(true, false, false);
    INFO("server output: " << srv->output_tail());
    auto X = join_as(*srv, "watcher");
    auto C = connect_to(*srv);
    REQUIRE(C->read_line() == "Your name?");
    const std::string bad[] = {"", std::string(33, 'a'), "two words", "a/b", "tab\there", "caf\xc3\xa9",
                               "semi;colon", "at@sign"};
    for (const std::string& name : bad) {
        CAPTURE(escape(name));
        REQUIRE(C->send_all(name + "\n"));
        CHECK(C->read_line() == "error: invalid name");
        CHECK(C->read_line() == "Your name?");
    }
    // The longest name, of every allowed kind of character, is accepted.
    const std::string longest = "Az09_-.abcdefghijklmnopqrstuvwxy";
    REQUIRE(longest.size() == 32);
    REQUIRE(C->send_all(longest + "\n"));
    CHECK(C->read_line() == "You are " + longest);
    // The room heard nothing of the failed attempts.
    CHECK(X->read_line() == longest + " has arrived");
    stop_evchat(*srv);
}

TEST_CASE("room names: a name already in the room gets error: name taken; a leaver's name is free")
{
    auto srv = start_room(true, false, false);
    INFO("server output: " << srv->output_tail());
    auto A = join_as(*srv, "alice");
    auto B = connect_to(*srv);
    REQUIRE(B->read_line() == "Your name?");
    REQUIRE(B->send_all("alice\n"));
    CHECK(B->read_line() == "error: name taken");
    CHECK(B->read_line() == "Your name?");
    REQUIRE(B->send_all("bob\n"));
    CHECK(B->read_line() == "You are bob");
    CHECK(A->read_line() == "bob has arrived");
    A->close();
    CHECK(B->read_line() == "alice has left");
    auto A2 = join_as(*srv, "alice", {B.get()});
    say_marker(*A2, "alice", "back again", {A2.get(), B.get()});
    stop_evchat(*srv);
}

TEST_CASE("room names: a client at the prompt hears nothing, and nobody hears of it")
{
    auto srv = start_room(true, true, false);
    INFO("server output: " << srv->output_tail());
    auto A = join_as(*srv, "alice");
    REQUIRE(A->read_line() == "Present (0):");
    auto B = join_as(*srv, "bob", {A.get()});
    REQUIRE(B->read_line() == "Present (1): alice");
    auto C = connect_to(*srv);
    REQUIRE(C->read_line() == "Your name?");
    auto E = connect_to(*srv); // stays at the prompt to the end
    REQUIRE(E->read_line() == "Your name?");
    // An unnamed client that goes away is not announced either.
    auto D = connect_to(*srv);
    REQUIRE(D->read_line() == "Your name?");
    D->close();
    say_marker(*A, "alice", "while C is unnamed", {A.get(), B.get()}); // not "ADDR has arrived/left"
    REQUIRE(C->send_all("carol\n"));
    CHECK(C->read_line() == "You are carol"); // not "alice: while C is unnamed"
    CHECK(C->read_line() == "Present (2): alice, bob"); // E, at the prompt, is not present
    CHECK(A->read_line() == "carol has arrived");
    CHECK(B->read_line() == "carol has arrived");
    say_marker(*B, "bob", "now C hears", {A.get(), B.get(), C.get()});
    // E heard none of it: its next line answers its name.
    REQUIRE(E->send_all("eve\n"));
    CHECK(E->read_line() == "You are eve");
    CHECK(E->read_line() == "Present (3): alice, bob, carol");
    stop_evchat(*srv);
}

// ---- roster ----

TEST_CASE("room roster: the newcomer hears who is present, in order of arrival, and only it")
{
    auto srv = start_room(true, true, false);
    INFO("server output: " << srv->output_tail());
    auto A = join_as(*srv, "alice", {});
    CHECK(A->read_line() == "Present (0):");
    auto B = join_as(*srv, "bob", {A.get()});
    CHECK(B->read_line() == "Present (1): alice");
    auto C = join_as(*srv, "carol", {A.get(), B.get()});
    CHECK(C->read_line() == "Present (2): alice, bob");
    B->close();
    CHECK(A->read_line() == "bob has left");
    CHECK(C->read_line() == "bob has left");
    auto D = join_as(*srv, "dave", {A.get(), C.get()}); // the others got no roster of their own
    CHECK(D->read_line() == "Present (2): alice, carol");
    auto B2 = join_as(*srv, "bob", {A.get(), C.get(), D.get()});
    CHECK(B2->read_line() == "Present (3): alice, carol, dave");
    stop_evchat(*srv);
}

TEST_CASE("room roster: without names it lists addresses")
{
    auto srv = start_room(false, true, false);
    INFO("server output: " << srv->output_tail());
    auto A = connect_to(*srv);
    CHECK(A->read_line() == "You are " + A->addr());
    CHECK(A->read_line() == "Present (0):");
    auto B = connect_to(*srv);
    CHECK(B->read_line() == "You are " + B->addr());
    CHECK(B->read_line() == "Present (1): " + A->addr());
    CHECK(A->read_line() == B->addr() + " has arrived");
    stop_evchat(*srv);
}

TEST_CASE("room roster: one longer than max_line_bytes lists the names that fit and ends ... (K more)")
{
    // 67 bytes: the sixth newcomer's roster of five 9-character names is exactly 67 bytes
    // with its '\n' and is whole; the seventh's (six names) is 78 and must be cut.
    const size_t max_line = 67;
    auto srv = start_room(true, true, true, "[client]\nmax_line_bytes = " + std::to_string(max_line) + "\n");
    INFO("server output: " << srv->output_tail());
    std::vector<std::unique_ptr<Conn>> cs;
    std::vector<std::string> names;
    std::vector<Conn*> room;
    std::string roster;
    for (int i = 1; i <= 7; i++) {
        std::string name = "member-0" + std::to_string(i);
        cs.push_back(join_as(*srv, name, room));
        roster = cs.back()->read_line();
        if (i <= 6) {
            std::string expected = "Present (" + std::to_string(names.size()) + "):";
            for (size_t j = 0; j < names.size(); j++)
                expected += (j ? ", " : " ") + names[j];
            CHECK(roster == expected);
        }
        room.push_back(cs.back().get());
        names.push_back(name);
    }
    check_truncated_roster(roster, {names.begin(), names.end() - 1}, max_line);
    // /who counts the asker too: seven names, cut the same way.
    REQUIRE(cs.back()->send_all("/who\n"));
    check_truncated_roster(cs.back()->read_line(), names, max_line);
    stop_evchat(*srv);
}

// ---- commands ----

TEST_CASE("room commands: /who lists everyone, the asker included, after what was said, to it only")
{
    auto srv = start_room(true, false, true);
    INFO("server output: " << srv->output_tail());
    auto A = join_as(*srv, "alice");
    auto B = join_as(*srv, "bob", {A.get()});
    auto C = join_as(*srv, "carol", {A.get(), B.get()});
    REQUIRE(A->send_all("before\n/who\n"));
    CHECK(A->read_line() == "alice: before");
    CHECK(A->read_line() == "Present (3): alice, bob, carol");
    CHECK(B->read_line() == "alice: before");
    CHECK(C->read_line() == "alice: before");
    say_marker(*C, "carol", "marker", {A.get(), B.get(), C.get()}); // B and C had no roster
    stop_evchat(*srv);
}

TEST_CASE("room commands: /nick renames for everyone; taken, invalid and missing names are refused")
{
    auto srv = start_room(true, false, true);
    INFO("server output: " << srv->output_tail());
    auto A = join_as(*srv, "alice");
    auto B = join_as(*srv, "bob", {A.get()});
    REQUIRE(A->send_all("/nick alicia\n"));
    CHECK(A->read_line() == "alice is now alicia");
    CHECK(B->read_line() == "alice is now alicia");
    say_marker(*A, "alicia", "renamed", {A.get(), B.get()});
    CHECK(srv->wait_output("alice is now alicia"));

    REQUIRE(A->send_all("/nick bob\n"));
    CHECK(A->read_line() == "error: name taken");
    REQUIRE(A->send_all("/nick alicia\n")); // one's own name is taken too
    CHECK(A->read_line() == "error: name taken");
    REQUIRE(A->send_all("/nick bad name\n"));
    CHECK(A->read_line() == "error: invalid name");
    REQUIRE(A->send_all("/nick " + std::string(33, 'x') + "\n"));
    CHECK(A->read_line() == "error: invalid name");
    REQUIRE(A->send_all("/nick\n"));
    CHECK(A->read_line() == "error: usage: /nick NAME");
    say_marker(*B, "bob", "marker", {A.get(), B.get()}); // B heard none of A's errors

    // The old name is free; the roster keeps the order of arrival across the rename.
    auto C = join_as(*srv, "alice", {A.get(), B.get()});
    REQUIRE(C->send_all("/who\n"));
    CHECK(C->read_line() == "Present (3): alicia, bob, alice");
    stop_evchat(*srv);
}

TEST_CASE("room commands: without names, /nick is an error and /me uses the address")
{
    auto srv = start_room(false, false, true);
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port());
    Conn& A = room.join();
    Conn& B = room.join();
    REQUIRE(A.send_all("/nick alice\n"));
    CHECK(A.read_line() == "error: /nick needs names ([room] names = true)");
    REQUIRE(A.send_all("/me shrugs\n"));
    CHECK(A.read_line() == "* " + A.addr() + " shrugs");
    CHECK(B.read_line() == "* " + A.addr() + " shrugs"); // not the /nick error
    stop_evchat(*srv);
}

TEST_CASE("room commands: /me says * NAME ACTION to everyone; without an action it is an error")
{
    auto srv = start_room(true, false, true);
    INFO("server output: " << srv->output_tail());
    auto A = join_as(*srv, "alice");
    auto B = join_as(*srv, "bob", {A.get()});
    REQUIRE(A->send_all("/me waves at  bob\n"));
    CHECK(A->read_line() == "* alice waves at  bob");
    CHECK(B->read_line() == "* alice waves at  bob");
    REQUIRE(A->send_all("/me\n"));
    CHECK(A->read_line() == "error: usage: /me ACTION");
    say_marker(*B, "bob", "marker", {A.get(), B.get()});
    stop_evchat(*srv);
}

TEST_CASE("room commands: /quit leaves; the others hear NAME has left; nothing after it is said")
{
    auto srv = start_room(true, false, true);
    INFO("server output: " << srv->output_tail());
    auto A = join_as(*srv, "alice");
    auto B = join_as(*srv, "bob", {A.get()});
    REQUIRE(A->send_all("last words\n/quit\nnot said\n"));
    CHECK(A->read_line() == "alice: last words");
    bool ended = false;
    std::string rest = A->read_until_eof(kTimeout, &ended);
    CHECK(ended);
    CHECK(A->eof()); // an orderly close, not a reset
    CHECK(escape(rest) == "");
    CHECK(B->read_line() == "alice: last words");
    CHECK(B->read_line() == "alice has left");
    say_marker(*B, "bob", "marker", {B.get()}); // not "alice: not said"
    stop_evchat(*srv);
}

TEST_CASE("room commands: /help lists the commands, to the asker only")
{
    auto srv = start_room(true, false, true);
    INFO("server output: " << srv->output_tail());
    auto A = join_as(*srv, "alice");
    auto B = join_as(*srv, "bob", {A.get()});
    REQUIRE(A->send_all("/help\n"));
    for (const char* cmd : {"/who ", "/nick ", "/me ", "/quit ", "/help ", "//text "}) {
        std::string line = A->read_line();
        CAPTURE(line);
        CHECK(line.compare(0, strlen(cmd), cmd) == 0);
    }
    say_marker(*B, "bob", "marker", {A.get(), B.get()}); // the help was six lines, and A's alone
    stop_evchat(*srv);
}

TEST_CASE("room commands: an unknown command is an error to the sender; //text says /text")
{
    auto srv = start_room(true, false, true);
    INFO("server output: " << srv->output_tail());
    auto A = join_as(*srv, "alice");
    auto B = join_as(*srv, "bob", {A.get()});
    REQUIRE(A->send_all("/x\n"));
    CHECK(A->read_line() == "error: unknown command /x (try /help)");
    REQUIRE(A->send_all("/whoami now\n"));
    CHECK(A->read_line() == "error: unknown command /whoami (try /help)");
    REQUIRE(A->send_all("/WHO\n"));
    CHECK(A->read_line() == "error: unknown command /WHO (try /help)");
    REQUIRE(A->send_all("//who\n//\n"));
    CHECK(A->read_line() == "alice: /who");
    CHECK(A->read_line() == "alice: /");
    CHECK(B->read_line() == "alice: /who"); // none of the errors reached B
    CHECK(B->read_line() == "alice: /");
    stop_evchat(*srv);
}

// ---- the defaults ----

TEST_CASE("room defaults: with no [room] keys a line starting with / is an ordinary line")
{
    auto srv = start_evchat();
    INFO("server output: " << srv->output_tail());
    Room room("127.0.0.1", srv->port()); // join() checks "You are ADDR" and arrivals: no prompt, no roster
    Conn& A = room.join();
    Conn& B = room.join();
    const std::vector<std::string> lines = {"/who", "/nick bob", "/me waves", "/help", "//x", "/x", "/quit"};
    std::string text;
    for (auto& l : lines)
        text += l + "\n";
    REQUIRE(A.send_all(text));
    for (auto& l : lines) {
        CHECK(A.read_line() == A.addr() + ": " + l);
        CHECK(B.read_line() == A.addr() + ": " + l);
    }
    say_marker(B, B.addr(), "still here", {&A, &B}); // /quit did not end A
    stop_evchat(*srv);
}

TEST_CASE("room names without commands: a line starting with / is said under the name")
{
    auto srv = start_room(true, true, false);
    INFO("server output: " << srv->output_tail());
    auto A = join_as(*srv, "alice");
    CHECK(A->read_line() == "Present (0):");
    REQUIRE(A->send_all("/who\n//x\n/quit\n"));
    CHECK(A->read_line() == "alice: /who");
    CHECK(A->read_line() == "alice: //x");
    CHECK(A->read_line() == "alice: /quit");
    stop_evchat(*srv);
}
