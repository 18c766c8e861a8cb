// Flood control: the buckets' arithmetic and the run of pauses, on given times.
#include "flood_control.h"

#include <doctest/doctest.h>

using Action = FloodControl::Verdict::Action;

TEST_CASE("off by default: every read and line goes on")
{
    FloodConfig limits;
    FloodControl f(limits);
    CHECK(f.read_allowance(0, 65536) == 65536);
    f.lines_begin(0);
    for (int i = 0; i < 1000; i++)
        CHECK(f.line_taken());
    CHECK(f.check(0, false).action == Action::go_on);
}

TEST_CASE("a line rate pauses after the burst, for as long as one line takes to earn")
{
    FloodConfig limits;
    limits.lines_per_second = 4;
    limits.lines_burst = 2;
    FloodControl f(limits);
    f.lines_begin(10);
    CHECK(f.line_taken());
    CHECK(!f.line_taken());  // the second empties the bucket
    FloodControl::Verdict v = f.check(10, true);
    CHECK(v.action == Action::pause);
    CHECK(v.wait == doctest::Approx(0.25));
    CHECK(v.run_began);
    CHECK(f.paused());
    f.pause_over(true);
    CHECK(!f.paused());
    f.lines_begin(10.25);
    CHECK(!f.line_taken());
    v = f.check(10.25, true);
    CHECK(!v.run_began);  // the same run goes on
    f.pause_over(false);
    f.lines_begin(20);
    CHECK(f.line_taken());
    CHECK(f.check(20, false).action == Action::go_on);
    CHECK(!f.line_taken());
    CHECK(f.check(20, false).run_began);  // a new run after one with nothing more waiting
}

TEST_CASE("disconnect_after puts out a run that lasts too long")
{
    FloodConfig limits;
    limits.lines_per_second = 1;
    limits.lines_burst = 1;
    limits.disconnect_after = 3;
    FloodControl f(limits);
    double t = 100;
    FloodControl::Verdict v;
    for (; t < 110; t += 1) {
        f.lines_begin(t);
        f.line_taken();
        v = f.check(t, true);
        if (v.action == Action::disconnect)
            break;
        f.pause_over(true);
    }
    CHECK(v.action == Action::disconnect);
    CHECK(v.flooding_for > 3);
    CHECK(t == 104);  // the run began at 100
}

TEST_CASE("a byte rate bounds each read, and a new limit applies at once")
{
    FloodConfig limits;
    limits.bytes_per_second = 1000;
    limits.bytes_burst = 300;
    FloodControl f(limits);
    CHECK(f.read_allowance(5, 65536) == 300);
    f.bytes_read(300);
    CHECK(f.read_allowance(5, 65536) == 1);
    CHECK(f.check(5, false).wait == doctest::Approx(0.001));
    CHECK(f.read_allowance(5.25, 65536) == 250);
    limits.bytes_per_second = 0;  // a reload turned it off
    CHECK(f.read_allowance(6, 65536) == 65536);
}
