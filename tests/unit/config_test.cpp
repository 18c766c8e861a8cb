// Config: defaults, the shipped file, and every kind of rejection with its position.
#include "config.h"
#include "config_parse.h"

#include <doctest/doctest.h>

TEST_CASE("the built-in default file parses to the built-in defaults")
{
    Config c, defaults;
    REQUIRE(parse(std::string(default_config_text()), c) == "");
    CHECK(c == defaults);
    CHECK(c.admin.listen == "");  // the admin listener is off unless asked for
    CHECK(!c.cluster.enabled());  // and a single node needs no Redis
}

TEST_CASE("values are read")
{
    Config c;
    REQUIRE(parse("[server]\nlisten = [\"[::1]:0\", \":9000\"]\nbacklog = 16\nshutdown_grace = 1\n"
                  "[client]\nmax_line_bytes = 1024\noutput_soft_limit = \"64KiB\"\n"
                  "output_hard_limit = 1048576\noutput_soft_seconds = 0.5\nslow_policy = \"drop\"\n"
                  "drain_timeout = 2.5\n[log]\nlevel = \"debug\"\n",
                  c) == "");
    CHECK(c.server.listen == std::vector<std::string>{"[::1]:0", ":9000"});
    CHECK(c.server.backlog == 16);
    CHECK(c.server.shutdown_grace == 1.0);
    CHECK(c.client.max_line_bytes == 1024);
    CHECK(c.client.output_soft_limit == 65536);
    CHECK(c.client.output_hard_limit == 1048576);
    CHECK(c.client.output_soft_seconds == 0.5);
    CHECK(c.client.slow_policy == SlowPolicy::drop);
    CHECK(c.client.drain_timeout == 2.5);
    CHECK(c.log.level == LogLevel::debug);
}

TEST_CASE("errors carry file:line:col")
{
    CHECK(error_of("[client]\nbogus = 1\n") == "t.toml:2:1: unknown key \"bogus\" in [client]");
    CHECK(error_of("[nope]\n") == "t.toml:1:2: unknown table or key \"nope\"");
    CHECK(error_of("[server]\nbacklog = \"x\"\n") == "t.toml:2:11: backlog must be an integer");
    CHECK(error_of("[server]\nbacklog = 0\n") == "t.toml:2:11: backlog must be between 1 and 65535");
    CHECK(error_of("[client]\nmax_line_bytes = 0\n").rfind("t.toml:2:18: max_line_bytes must be between", 0) == 0);
    CHECK(error_of("[client]\nslow_policy = \"kick\"\n") ==
          "t.toml:2:15: slow_policy must be \"disconnect\" or \"drop\"");
    CHECK(error_of("[client]\noutput_soft_limit = \"1 MB\"\n").rfind("t.toml:2:21: output_soft_limit must be a size", 0) == 0);
    CHECK(error_of("[client]\noutput_soft_seconds = -1\n").rfind("t.toml:2:23: output_soft_seconds must be between", 0) == 0);
    CHECK(error_of("[server]\nlisten = [\"nohost\"]\n").rfind("t.toml:2:11: listen address \"nohost\" has no :PORT", 0) == 0);
    CHECK(error_of("[server]\nlisten = []\n").rfind("t.toml:2:10: listen must be a non-empty array", 0) == 0);
    CHECK(error_of("[log]\nlevel = \"loud\"\n").rfind("t.toml:2:9: level must be", 0) == 0);
    CHECK(error_of("[server\n").rfind("t.toml:1:", 0) == 0);
    CHECK(error_of("server = 1\n") == "t.toml:1:10: [server] must be a table");
}

TEST_CASE("limits must be consistent")
{
    CHECK(error_of("[client]\noutput_soft_limit = \"9MiB\"\n").find("output_soft_limit must not exceed output_hard_limit") !=
          std::string::npos);
    CHECK(error_of("[client]\nmax_line_bytes = \"1MiB\"\noutput_hard_limit = \"1MiB\"\noutput_soft_limit = 1024\n")
              .rfind("t.toml:3:21: output_hard_limit must be at least max_line_bytes + 64", 0) == 0);
}

TEST_CASE("a failed parse leaves the config untouched")
{
    Config c;
    c.server.backlog = 7;
    CHECK(parse("[server]\nbacklog = 99\nbogus = 1\n", c) != "");
    CHECK(c.server.backlog == 7);
}

TEST_CASE("an unreadable file is reported with its path")
{
    Config c;
    CHECK(load_config("/nonexistent/evchat.toml", c) == "/nonexistent/evchat.toml: No such file or directory");
}

TEST_CASE("inputs that crashed toml++ are errors (from the fuzzer)")
{
    CHECK(error_of(std::string("[\0\0\0y", 6)).rfind("t.toml:1:", 0) == 0);
    CHECK(error_of("[# comment\n").rfind("t.toml:1:", 0) == 0);
}

TEST_CASE("non-ASCII is allowed in comments only (toml++ UB guard)")
{
    CHECK(error_of("\xef\xbb\xb7sr") == "t.toml:1:1: non-ASCII character outside a comment");
    CHECK(error_of("[log]\nlevel = \"info\" \xc3\xa9\n") ==
          "t.toml:2:16: non-ASCII character outside a comment");
    Config c;
    CHECK(parse("# caf\xc3\xa9 \"quoted\" 'x'\n[log] # r\xc3\xa9glages\nlevel = \"info\"\n", c) == "");
    CHECK(error_of("[server]\nlisten = [\"caf\xc3\xa9:1\"] # \xc3\xa9\n") ==
          "t.toml:2:15: non-ASCII character outside a comment");
    CHECK(error_of("[server]\nlisten = [\"\"\"#\"\"\"] \xc3\xa9\n") ==
          "t.toml:2:20: non-ASCII character outside a comment");
}

TEST_CASE("[admin]: listen, timeout, max_connections, and their errors")
{
    Config c;
    REQUIRE(parse("[admin]\nlisten = \"127.0.0.1:9180\"\ntimeout = 0.5\nmax_connections = 4\n", c) == "");
    CHECK(c.admin.listen == "127.0.0.1:9180");
    CHECK(c.admin.timeout == 0.5);
    CHECK(c.admin.max_connections == 4);
    REQUIRE(parse("[admin]\nlisten = \"\"\n", c) == "");
    CHECK(c.admin.listen == "");
    CHECK(error_of("[admin]\nlisten = 9180\n") == "t.toml:2:10: listen must be a string");
    CHECK(error_of("[admin]\nlisten = \"9180\"\n").rfind("t.toml:2:10: listen address \"9180\" has no :PORT", 0) == 0);
    CHECK(error_of("[admin]\ntimeout = 0\n").rfind("t.toml:2:11: timeout must be between 0.01 and", 0) == 0);
    CHECK(error_of("[admin]\nmax_connections = 0\n") == "t.toml:2:19: max_connections must be between 1 and 1024");
    CHECK(error_of("[admin]\nport = 1\n") == "t.toml:2:1: unknown key \"port\" in [admin]");
}

TEST_CASE("a reload may change every key but those read only at start")
{
    Config running, next;
    REQUIRE(parse("[server]\nlisten = [\":1\"]\n[client]\nidle_timeout = 3\n[room]\nnames = true\n", next) == "");
    CHECK(restart_only_changes(running, next) == "");
    REQUIRE(parse("[server]\nreuse_port = true\n", next) == "");
    CHECK(restart_only_changes(running, next) == "[server] reuse_port");
    REQUIRE(parse("[cluster]\nredis = \"127.0.0.1:6379\"\nlease = 40\n", next) == "");
    CHECK(restart_only_changes(running, next) == "[cluster] redis, [cluster] lease");
    CHECK(restart_only_changes(next, next) == "");
}
