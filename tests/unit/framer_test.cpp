// Line framer: Go bufio.ScanLines semantics and the line-length limit.
#include "framer.h"

#include <doctest/doctest.h>
#include <string>
#include <vector>

namespace {
struct Collect {
    std::vector<std::string> lines;
    bool operator()(std::string_view s)
    {
        lines.emplace_back(s);
        return true;
    }
};

std::vector<std::string> frame(const std::string& input, size_t max = 65536, bool at_eof = true)
{
    LineFramer f(max);
    Collect c;
    CHECK(f.feed(input.data(), input.size(), std::ref(c)) == LineFramer::Status::ok);
    if (at_eof)
        f.finish(std::ref(c));
    return c.lines;
}
}  // namespace

TEST_CASE("lines split on LF, one CR dropped, other bytes kept")
{
    using V = std::vector<std::string>;
    CHECK(frame("a\nb\n") == V{"a", "b"});
    CHECK(frame("a\r\n") == V{"a"});
    CHECK(frame("a\r\r\n") == V{"a\r"});
    CHECK(frame("in\rner\n") == V{"in\rner"});
    CHECK(frame("\n\n") == V{"", ""});
    CHECK(frame(std::string("nul\0\xff", 5) + "\n") == V{std::string("nul\0\xff", 5)});
}

TEST_CASE("an unfinished last line is a line at end of input")
{
    using V = std::vector<std::string>;
    CHECK(frame("a\nlast") == V{"a", "last"});
    CHECK(frame("last\r") == V{"last"});
    CHECK(frame("\r") == V{""});
    CHECK(frame("a\n").size() == 1);
    CHECK(frame("a\nlast", 65536, false) == V{"a"});
}

TEST_CASE("a line split over many reads is joined")
{
    LineFramer f(100);
    Collect c;
    for (char ch : std::string("hello\r\nwor"))
        f.feed(&ch, 1, std::ref(c));
    CHECK(c.lines == std::vector<std::string>{"hello"});
    CHECK(f.pending() == 3);
    f.feed("ld\n", 3, std::ref(c));
    CHECK(c.lines == std::vector<std::string>{"hello", "world"});
    CHECK(f.pending() == 0);
}

TEST_CASE("the limit counts the newline, as bufio.Scanner's buffer does")
{
    SUBCASE("max - 1 bytes and a newline fit")
    {
        LineFramer f(8);
        Collect c;
        CHECK(f.feed("1234567\n", 8, std::ref(c)) == LineFramer::Status::ok);
        CHECK(c.lines.size() == 1);
    }
    SUBCASE("max bytes and a newline do not")
    {
        LineFramer f(8);
        Collect c;
        CHECK(f.feed("12345678\n", 9, std::ref(c)) == LineFramer::Status::too_long);
        CHECK(c.lines.empty());
    }
    SUBCASE("max bytes with no newline yet are already too long")
    {
        LineFramer f(8);
        Collect c;
        CHECK(f.feed("1234", 4, std::ref(c)) == LineFramer::Status::ok);
        CHECK(f.feed("5678", 4, std::ref(c)) == LineFramer::Status::too_long);
        CHECK(f.pending() == 0);
    }
    SUBCASE("max - 1 bytes unfinished at EOF are a line")
    {
        CHECK(frame("1234567", 8) == std::vector<std::string>{"1234567"});
    }
    SUBCASE("lines before the long one are delivered")
    {
        LineFramer f(8);
        Collect c;
        CHECK(f.feed("ok\n123456789\n", 13, std::ref(c)) == LineFramer::Status::too_long);
        CHECK(c.lines == std::vector<std::string>{"ok"});
    }
}

TEST_CASE("on_line can stop the framing, and the rest can be fed later")
{
    LineFramer f(100);
    std::vector<std::string> got;
    auto one = [&](std::string_view s) {
        got.emplace_back(s);
        return false;
    };
    size_t used = 0;
    CHECK(f.feed("a\nb\nc", 5, one, &used) == LineFramer::Status::stopped);
    CHECK(got == std::vector<std::string>{"a"});
    CHECK(used == 2);
    CHECK(f.pending() == 0);
    Collect rest;
    CHECK(f.feed("b\nc", 3, std::ref(rest), &used) == LineFramer::Status::ok);
    CHECK(used == 3);
    CHECK(rest.lines == std::vector<std::string>{"b"});
    CHECK(f.pending() == 1);
}
