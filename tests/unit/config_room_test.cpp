// Config of the room's history and presence: values read, defaults, and every rejection
// with its position.
#include "config.h"
#include "config_parse.h"

#include <doctest/doctest.h>

TEST_CASE("history and presence default to the seed's protocol")
{
    Config c;
    CHECK(c.room.history == 0);
    CHECK(c.room.history_bytes == 1u << 20);
    CHECK(c.room.presence == Presence::each);
    CHECK(c.room.presence_interval == 2.0);
}

TEST_CASE("history and presence are read")
{
    Config c;
    REQUIRE(parse_config("[room]\nhistory = 500\nhistory_bytes = \"64KiB\"\npresence = \"summary\"\n"
                         "presence_interval = 0.5\n",
                         "t.toml", c) == "");
    CHECK(c.room.history == 500);
    CHECK(c.room.history_bytes == 65536);
    CHECK(c.room.presence == Presence::summary);
    CHECK(c.room.presence_interval == 0.5);
    REQUIRE(parse_config("[room]\npresence = \"none\"\n", "t.toml", c) == "");
    CHECK(c.room.presence == Presence::none);
}

TEST_CASE("bad history and presence values are refused with their position")
{
    CHECK(error_of("[room]\nhistory = 10001\n") == "t.toml:2:11: history must be between 0 and 10000");
    CHECK(error_of("[room]\nhistory = -1\n") == "t.toml:2:11: history must be between 0 and 10000");
    CHECK(error_of("[room]\nhistory = \"10\"\n") == "t.toml:2:11: history must be an integer");
    CHECK(error_of("[room]\nhistory_bytes = 0\n").rfind("t.toml:2:17: history_bytes must be between", 0) == 0);
    CHECK(error_of("[room]\nhistory_bytes = \"2GiB\"\n").rfind("t.toml:2:17: history_bytes must be between", 0) == 0);
    CHECK(error_of("[room]\npresence = \"some\"\n") ==
          "t.toml:2:12: presence must be \"each\", \"summary\" or \"none\"");
    CHECK(error_of("[room]\npresence_interval = 0\n").rfind("t.toml:2:21: presence_interval must be between 0.01", 0) ==
          0);
}

TEST_CASE("a summary needs a line limit its counts fit in")
{
    CHECK(error_of("[client]\nmax_line_bytes = 127\n[room]\npresence = \"summary\"\n") ==
          "t.toml:4:12: presence = \"summary\" needs [client] max_line_bytes of at least 128");
    CHECK(error_of("[client]\nmax_line_bytes = 128\n[room]\npresence = \"summary\"\n") == "");
    CHECK(error_of("[client]\nmax_line_bytes = 2\n[room]\npresence = \"none\"\n") == "");
}

TEST_CASE("the history must fit under the soft output limit, when it is on")
{
    const std::string small = "[client]\noutput_soft_limit = \"64KiB\"\n";
    CHECK(error_of(small + "[room]\nhistory = 10\n") ==
          "t.toml:4:11: history_bytes (1048576) must not exceed [client] output_soft_limit (65536)");
    CHECK(error_of(small + "[room]\nhistory = 10\nhistory_bytes = \"128KiB\"\n") ==
          "t.toml:5:17: history_bytes (131072) must not exceed [client] output_soft_limit (65536)");
    CHECK(error_of(small + "[room]\nhistory = 10\nhistory_bytes = \"64KiB\"\n") == "");
    CHECK(error_of(small) == "");  // off: the default bytes do not matter
}

TEST_CASE("a reload may change history and presence")
{
    Config running, next;
    REQUIRE(parse_config("[room]\nhistory = 5\nhistory_bytes = 1000\npresence = \"none\"\npresence_interval = 9\n",
                         "t.toml", next) == "");
    CHECK(restart_only_changes(running, next) == "");
}
