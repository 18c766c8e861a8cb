// Config for issue 16: [proxy] trusted/timeout, [access] lists and rate, [server]
// max_input_memory; their defaults, values, and errors with file:line:col.
#include "config.h"
#include "config_parse.h"

#include <doctest/doctest.h>

TEST_CASE("[proxy], [access], max_input_memory: the defaults")
{
    Config c;
    REQUIRE(parse("", c) == "");
    CHECK(c.proxy.trusted.empty());
    CHECK(c.proxy.timeout == 5.0);
    CHECK(c.access.allow.empty());
    CHECK(c.access.deny.empty());
    CHECK(!c.access.apply_to_connected);
    CHECK(c.access.connect_rate == 0);
    CHECK(c.access.connect_burst == 10);
    CHECK(c.server.max_input_memory == 64u << 20);
    // The shipped file says the same.
    Config shipped;
    REQUIRE(parse(std::string(default_config_text()), shipped) == "");
    CHECK(shipped.proxy == c.proxy);
    CHECK(shipped.access == c.access);
    CHECK(shipped.server.max_input_memory == c.server.max_input_memory);
}

TEST_CASE("[proxy], [access], max_input_memory: values are read")
{
    Config c;
    REQUIRE(parse("[server]\nmax_input_memory = \"128MiB\"\n"
                  "[proxy]\ntrusted = [\"10.0.0.0/8\", \"2001:db8::/32\", \"192.0.2.1\", \"::1\"]\ntimeout = 2.5\n"
                  "[access]\nallow = [\"0.0.0.0/0\", \"::/0\"]\ndeny = [\"198.51.100.0/24\", \"::ffff:203.0.113.9\"]\n"
                  "apply_to_connected = true\nconnect_rate = 0.5\nconnect_burst = 20\n",
                  c) == "");
    CHECK(c.server.max_input_memory == 128u << 20);
    CHECK(c.proxy.trusted == std::vector<std::string>{"10.0.0.0/8", "2001:db8::/32", "192.0.2.1", "::1"});
    CHECK(c.proxy.timeout == 2.5);
    CHECK(c.access.allow == std::vector<std::string>{"0.0.0.0/0", "::/0"});
    CHECK(c.access.deny == std::vector<std::string>{"198.51.100.0/24", "::ffff:203.0.113.9"});
    CHECK(c.access.apply_to_connected);
    CHECK(c.access.connect_rate == 0.5);
    CHECK(c.access.connect_burst == 20);
    REQUIRE(parse("[server]\nmax_input_memory = 65536\n", c) == "");
    CHECK(c.server.max_input_memory == 65536);  // the least allowed
}

TEST_CASE("a bad CIDR range is an error at its list, naming the entry")
{
    CHECK(error_of("[proxy]\ntrusted = [\"10.0.0.1/8\"]\n") ==
          "t.toml:2:11: trusted: \"10.0.0.1/8\" has bits set past its prefix length");
    CHECK(starts(error_of("[access]\nallow = [\"10.0.0.0/8\", \"nope\"]\n"),
                 "t.toml:2:9: allow: \"nope\" is not an address or a CIDR range"));
    CHECK(starts(error_of("[access]\ndeny = [\"10.0.0.0/33\"]\n"),
                 "t.toml:2:8: deny: \"10.0.0.0/33\" is not an address or a CIDR range"));
    CHECK(starts(error_of("[access]\n\ndeny = [\n  \"::/0\",\n  \"fe80::1%eth0\",\n]\n"),
                 "t.toml:3:8: deny: \"fe80::1%eth0\" is not an address"));
    CHECK(starts(error_of("[proxy]\ntrusted = [\"\"]\n"), "t.toml:2:11: trusted: \"\" is not an address"));
    CHECK(starts(error_of("[access]\nallow = [\"10.0.0.1\\u0000x\"]\n"), "t.toml:2:9: allow: "));
}

TEST_CASE("[proxy], [access], max_input_memory: wrong types and ranges")
{
    CHECK(error_of("[proxy]\ntrusted = \"10.0.0.0/8\"\n") == "t.toml:2:11: trusted must be an array of strings");
    CHECK(starts(error_of("[access]\ndeny = [1]\n"), "t.toml:2:9: deny entry must be"));
    CHECK(starts(error_of("[proxy]\ntimeout = 0\n"), "t.toml:2:11: timeout must be between 0.01 and"));
    CHECK(starts(error_of("[proxy]\ntimeout = \"5s\"\n"), "t.toml:2:11: timeout must be a number"));
    CHECK(error_of("[access]\napply_to_connected = \"yes\"\n") == "t.toml:2:22: apply_to_connected must be true or false");
    CHECK(starts(error_of("[access]\nconnect_rate = -1\n"), "t.toml:2:16: connect_rate must be between 0 and"));
    CHECK(starts(error_of("[access]\nconnect_burst = 0.5\n"), "t.toml:2:17: connect_burst must be between 1 and"));
    CHECK(starts(error_of("[access]\nconnect_rate = inf\n"), "t.toml:2:16: connect_rate must be between"));
    CHECK(starts(error_of("[server]\nmax_input_memory = 1024\n"), "t.toml:2:20: max_input_memory must be between 65536"));
    CHECK(starts(error_of("[server]\nmax_input_memory = \"64 MiB\"\n"), "t.toml:2:20: max_input_memory must be a size"));
    CHECK(error_of("[access]\nrate = 1\n") == "t.toml:2:1: unknown key \"rate\" in [access]");
    CHECK(error_of("[proxy]\nversion = 2\n") == "t.toml:2:1: unknown key \"version\" in [proxy]");
    CHECK(error_of("access = 1\n") == "t.toml:1:10: [access] must be a table");
}

TEST_CASE("a bad range leaves the config untouched")
{
    Config c;
    c.access.deny = {"192.0.2.0/24"};
    CHECK(parse("[access]\ndeny = [\"198.51.100.0/24\"]\nallow = [\"x\"]\n", c) != "");
    CHECK(c.access.deny == std::vector<std::string>{"192.0.2.0/24"});
}

TEST_CASE("a reload applies [proxy], [access] and max_input_memory")
{
    Config running, next;
    REQUIRE(parse("[server]\nmax_input_memory = \"1MiB\"\n[proxy]\ntrusted = [\"10.0.0.0/8\"]\ntimeout = 1\n"
                  "[access]\ndeny = [\"192.0.2.0/24\"]\nallow = [\"::/0\"]\napply_to_connected = true\n"
                  "connect_rate = 3\nconnect_burst = 4\n",
                  next) == "");
    CHECK(!(running == next));
    CHECK(restart_only_changes(running, next) == "");
}
