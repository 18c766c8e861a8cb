// Process figures: the server's CPU time (all threads) and resident memory from /proc,
// the generator's own CPU time, and its open-file limit.
#pragma once

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
// User + system CPU time of this process.
double self_cpu_seconds();
// Raises the soft open-file limit to the hard one; returns the soft limit now in force.
long raise_fd_limit();

// CPU of the server and of the generator, and the time, at one moment; two marks give
// the CPU each spent over an interval.
struct CpuMark {
    double server = -1;
    double self = 0;
    double time = 0;
};
CpuMark cpu_mark(const std::vector<int>& server_pids);

}  // namespace bench
