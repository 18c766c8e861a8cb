// Log: level names and the line format.
#include "log.h"

#include <doctest/doctest.h>

TEST_CASE("levels")
{
    CHECK(parse_log_level("warn") == LogLevel::warn);
    CHECK_FALSE(parse_log_level("WARN"));
    CHECK(std::string(log_level_name(LogLevel::error)) == "error");
    Log log(LogLevel::warn);
    CHECK(log.enabled(LogLevel::error));
    CHECK_FALSE(log.enabled(LogLevel::info));
}

TEST_CASE("a line is an ISO 8601 UTC stamp, the level and the message")
{
    CHECK(format_log_line(1764028201.123, LogLevel::info, "listening on 127.0.0.1:8000") ==
          "2025-11-24T23:50:01.123Z info listening on 127.0.0.1:8000\n");
    CHECK(format_log_line(0, LogLevel::warn, "x") == "1970-01-01T00:00:00.000Z warn x\n");
}

TEST_CASE("json lines escape the message")
{
    CHECK(format_log_line(0, LogLevel::info, "say \"hi\"\\\n\x01", LogFormat::json) ==
          "{\"time\":\"1970-01-01T00:00:00.000Z\",\"level\":\"info\",\"msg\":\"say \\\"hi\\\"\\\\\\u000a\\u0001\"}\n");
}

TEST_CASE("a throttled log speaks at most once a second, with the count since it last did")
{
    LogThrottle t;
    CHECK(t.count(10.0) == 1);
    CHECK(t.count(10.2) == 0);
    CHECK(t.count(10.9) == 0);
    CHECK(t.count(11.0) == 3);
    CHECK(t.count(11.5) == 0);
    CHECK(t.count(20.0) == 2);
}
