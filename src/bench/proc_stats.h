// Process figures: the server's CPU and memory from /proc; the generator's CPU and fd limit.
// Stateless functions, but for RssPeak, owned by the scenario that samples with it.
#pragma once

#include "bench/ticker.h"

#include <ev.h>
#include <vector>

namespace bench {

// CPU time of every thread of pid: from /proc/PID/task/*/schedstat (nanoseconds), else
// utime + stime from /proc/PID/stat (10 ms ticks); -1 if unknown (pid 0, gone). A
// thread that exits during an interval takes its time with it from the first source.
double process_cpu_seconds(int pid);
// VmRSS of pid in KiB, from /proc/PID/status; -1 if unknown.
long process_rss_kib(int pid);
// The sum over the server's processes; -1 if any is unknown (or there are none).
long server_rss_kib(const std::vector<int>& pids);
// Raises the soft open-file limit to the hard one; returns the soft limit now in force.
long raise_fd_limit_to_hard();

// CPU of the server and of the generator, and the time, at one moment; two marks give
// the CPU each spent over an interval.
struct CpuMark {
    double server = -1;
    double self = 0;
    double time = 0;
};
CpuMark cpu_mark(const std::vector<int>& server_pids);
// The server's CPU seconds from one mark to a later one; -1 if either lacks the figure.
double server_cpu_seconds(const CpuMark& from, const CpuMark& to);

// The server's peak resident memory: while it lives, samples server_rss_kib() every
// interval seconds and raises peak_kib to it. The caller sets peak_kib's start.
class RssPeak {
public:
    RssPeak(struct ev_loop* loop, double interval, const std::vector<int>& pids, long& peak_kib);

private:
    Ticker sampler_;
};

}  // namespace bench
