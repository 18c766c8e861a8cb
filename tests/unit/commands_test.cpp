// Commands and names: parsing, and the room's roster.
#include "broadcaster.h"
#include "commands.h"
#include "named_member.h"

#include <algorithm>
#include <deque>
#include <doctest/doctest.h>
#include <string>
#include <vector>

TEST_CASE("lines and commands")
{
    using K = Command::Kind;
    CHECK(parse_command("hello").kind == K::say);
    CHECK(parse_command("").kind == K::say);
    Command slash = parse_command("//who");
    CHECK(slash.kind == K::say);
    CHECK(slash.arg == "/who");
    CHECK(parse_command("/who").kind == K::who);
    CHECK(parse_command("/who cares").kind == K::who);
    CHECK(parse_command("/quit").kind == K::quit);
    CHECK(parse_command("/help").kind == K::help);
    Command me = parse_command("/me waves hello");
    CHECK(me.kind == K::me);
    CHECK(me.arg == "waves hello");
    Command nick = parse_command("/nick bob");
    CHECK(nick.kind == K::nick);
    CHECK(nick.arg == "bob");
    Command bare = parse_command("/nick");
    CHECK(bare.kind == K::usage);
    CHECK(bare.arg == "/nick");
    Command odd = parse_command("/WHO x");
    CHECK(odd.kind == K::unknown);
    CHECK(odd.arg == "/WHO");
}

TEST_CASE("names")
{
    CHECK(is_valid_name("alice"));
    CHECK(is_valid_name("A.b-c_9"));
    CHECK(is_valid_name(std::string(32, 'x')));
    CHECK_FALSE(is_valid_name(std::string(33, 'x')));
    CHECK_FALSE(is_valid_name(""));
    CHECK_FALSE(is_valid_name("a b"));
    CHECK_FALSE(is_valid_name("a:b"));
    CHECK_FALSE(is_valid_name("caf\xc3\xa9"));
}

TEST_CASE("the roster lists the room in order of arrival, within a line limit")
{
    Broadcaster room;
    CHECK(room.roster(100) == "Present (0):\n");
    std::deque<Named> m;
    for (size_t i = 0; i < 40; i++)
        room.arrive(m.emplace_back("n" + std::to_string(i)));
    CHECK(room.roster(100000).rfind("Present (40): n0, n1, n2,", 0) == 0);
    room.leave(m[1]);
    room.rename(m[2], "two");
    CHECK(room.has_member_named("two"));
    CHECK_FALSE(room.has_member_named("n2"));
    std::string full = room.roster(100000);
    CHECK(full.rfind("Present (39): n0, two, n3,", 0) == 0);
    CHECK(full.back() == '\n');
    std::string cut = room.roster(100);
    CHECK(cut.size() <= 100);
    CHECK(cut.rfind("Present (39): n0, two,", 0) == 0);
    size_t shown = std::count(cut.begin(), cut.end(), ',');
    size_t more = std::stoul(cut.substr(cut.find("... (") + 5));
    CHECK(shown + more == 39);
    CHECK(cut.substr(cut.size() - 7) == " more)\n");
    // As many as fit: one name more would not.
    std::string names = full.substr(14, full.size() - 15);  // after "Present (39): "
    size_t next = names.find(", ", cut.rfind(", ...") - 14 + 2);
    std::string longer = "Present (39): " + names.substr(0, next) + ", ... (" + std::to_string(more - 1) + " more)\n";
    CHECK(longer.size() > 100);
    for (Member& x : m)
        room.release(x);
}
