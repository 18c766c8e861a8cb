// Presence summary: the line's parts, and the cut that keeps it within the line limit.
#include "presence_summary.h"

#include <doctest/doctest.h>
#include <string>

TEST_CASE("a summary says the arrivals and the leaves, each part only if not empty")
{
    PresenceSummary s;
    CHECK(s.empty());
    s.arrived("a");
    s.arrived("b");
    s.arrived("c");
    s.left("d");
    CHECK(!s.empty());
    CHECK(s.take() == "+3 arrived: a, b, c; -1 left: d\n");
    CHECK(s.empty());
    s.arrived("x");
    CHECK(s.take() == "+1 arrived: x\n");
    s.left("y");
    s.left("z");
    CHECK(s.take() == "-2 left: y, z\n");
}

TEST_CASE("the same name may arrive and leave in one summary")
{
    PresenceSummary s;
    s.arrived("a");
    s.left("a");
    CHECK(s.take() == "+1 arrived: a; -1 left: a\n");
}

TEST_CASE("lists too long are cut to whole names and (+K more)")
{
    PresenceSummary s(128);
    for (int i = 0; i < 100; i++)
        s.arrived("name" + std::to_string(i));
    std::string line = s.take();
    CAPTURE(line);
    CHECK(line.size() <= 128);
    CHECK(line.rfind("+100 arrived: name0, name1, ", 0) == 0);
    CHECK(line.find(" more)\n") != std::string::npos);
    // The count of those left out is exact: shown + more = 100.
    size_t shown = 0;
    for (size_t at = 0; (at = line.find("name", at)) != std::string::npos; at++)
        shown++;
    size_t more = std::stoul(line.substr(line.rfind("(+") + 2));
    CHECK(shown + more == 100);
    CHECK(line == "+100 arrived: name0, name1, name2, name3, name4, name5, name6, name7, name8, name9, "
                  "name10, name11, name12, name13 (+86 more)\n");
}

TEST_CASE("both parts cut share the line; a short part leaves the rest to the other")
{
    PresenceSummary s(128);
    for (int i = 0; i < 50; i++)
        s.arrived("arriving" + std::to_string(i));
    s.left("gone");
    std::string line = s.take();
    CAPTURE(line);
    CHECK(line.size() <= 128);
    CHECK(line.find("; -1 left: gone\n") != std::string::npos);
    for (int i = 0; i < 50; i++)
        s.arrived("arriving" + std::to_string(i));
    for (int i = 0; i < 50; i++)
        s.left("leaving" + std::to_string(i));
    line = s.take();
    CAPTURE(line);
    CHECK(line.size() <= 128);
    CHECK(line.rfind("+50 arrived: arriving0, ", 0) == 0);
    CHECK(line.find("; -50 left: leaving0, ") != std::string::npos);
}

TEST_CASE("whatever the limit and the counts, the line fits and adds up")
{
    for (size_t max_line = PresenceSummary::min_line; max_line < 400; max_line += 7) {
        for (int arrivals : {0, 1, 5, 40, 1000}) {
            for (int leaves : {0, 1, 3, 200}) {
                if (arrivals + leaves == 0)
                    continue;
                PresenceSummary s(max_line);
                for (int i = 0; i < arrivals; i++)
                    s.arrived("a" + std::to_string(i));
                for (int i = 0; i < leaves; i++)
                    s.left("l" + std::to_string(i));
                std::string line = s.take();
                CAPTURE(max_line);
                CAPTURE(line);
                CHECK(line.size() <= max_line);
                CHECK(line.back() == '\n');
                CHECK((line.find(" arrived: ") != std::string::npos) == (arrivals > 0));
                CHECK((line.find(" left: ") != std::string::npos) == (leaves > 0));
            }
        }
    }
}

TEST_CASE("a list that no name fits says only the count")
{
    PresenceSummary s(PresenceSummary::min_line);
    s.arrived(std::string(200, 'n'));
    CHECK(s.take() == "+1 arrived: (+1 more)\n");
}

TEST_CASE("a storm of arrivals keeps the names one line could show, and counts the rest")
{
    PresenceSummary s(128);
    for (int i = 0; i < 100000; i++)
        s.arrived("127.0.0.1:" + std::to_string(10000 + i % 50000));
    std::string line = s.take();
    CHECK(line.size() <= 128);
    CHECK(line.rfind("+100000 arrived: 127.0.0.1:10000, ", 0) == 0);
}
