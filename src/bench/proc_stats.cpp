// Process figures read from /proc and getrusage, and the memory peak's sampler.
#include "bench/proc_stats.h"

#include "bench/clock.h"
#include "metrics.h"

#include <algorithm>
#include <cstdio>
#include <dirent.h>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>
#include <sys/resource.h>
#include <unistd.h>

namespace bench {

double process_cpu_seconds(int pid)
{
    if (pid <= 0)
        return -1;
    // Nanoseconds on CPU of each thread: /proc/PID/stat's utime + stime count 10 ms
    // ticks, too coarse for runs that take a tenth of a second.
    std::string tasks = "/proc/" + std::to_string(pid) + "/task";
    if (DIR* dir = opendir(tasks.c_str())) {
        unsigned long long sum = 0;
        bool any = false;
        while (dirent* e = readdir(dir)) {
            if (e->d_name[0] == '.')
                continue;
            FILE* f = fopen((tasks + "/" + e->d_name + "/schedstat").c_str(), "r");
            unsigned long long ns = 0;
            if (f && fscanf(f, "%llu", &ns) == 1) {
                sum += ns;
                any = true;
            }
            if (f)
                fclose(f);
        }
        closedir(dir);
        if (any)
            return static_cast<double>(sum) / 1e9;
    }
    std::string path = "/proc/" + std::to_string(pid) + "/stat";
    FILE* f = fopen(path.c_str(), "r");
    if (!f)
        return -1;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    std::vector<double> fields;  // utime and stime are fields 14 and 15, in clock ticks
    if (!proc_stat_fields(std::string_view(buf, n), 13, fields))
        return -1;
    return (fields[14 - 3] + fields[15 - 3]) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long process_rss_kib(int pid)
{
    if (pid <= 0)
        return -1;
    std::string path = "/proc/" + std::to_string(pid) + "/status";
    FILE* f = fopen(path.c_str(), "r");
    if (!f)
        return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

long raise_fd_limit_to_hard()
{
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY ? 1 << 20 : static_cast<long>(rl.rlim_cur);
}

long server_rss_kib(const std::vector<int>& pids)
{
    long sum = 0;
    for (int pid : pids) {
        long kib = process_rss_kib(pid);
        if (kib < 0)
            return -1;
        sum += kib;
    }
    return pids.empty() ? -1 : sum;
}

CpuMark cpu_mark(const std::vector<int>& server_pids)
{
    double server = server_pids.empty() ? -1 : 0;
    for (int pid : server_pids) {
        double s = process_cpu_seconds(pid);
        if (s < 0) {
            server = -1;
            break;
        }
        server += s;
    }
    return {server, rusage_cpu_seconds(), seconds(now_ns())};
}

double server_cpu_seconds(const CpuMark& from, const CpuMark& to)
{
    return from.server >= 0 && to.server >= 0 ? to.server - from.server : -1;
}

RssPeak::RssPeak(struct ev_loop* loop, double interval, const std::vector<int>& pids,
                 long& peak_kib)
    : sampler_(loop, interval,
               [&pids, &peak_kib] { peak_kib = std::max(peak_kib, server_rss_kib(pids)); })
{
}

}  // namespace bench
