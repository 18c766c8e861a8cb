// Log: formatting and writing of event lines.
#include "log.h"

#include <cmath>
#include <cstdarg>
#include <ctime>
#include <sys/time.h>

namespace {
const char* const level_names[] = {"debug", "info", "warn", "error"};
}

std::optional<LogLevel> parse_log_level(std::string_view name)
{
    for (int i = 0; i < 4; i++)
        if (name == level_names[i])
            return static_cast<LogLevel>(i);
    return std::nullopt;
}

const char* log_level_name(LogLevel level)
{
    return level_names[static_cast<int>(level)];
}

void append_json_string(std::string& out, std::string_view s)
{
    out += '"';
    for (char ch : s) {
        auto u = static_cast<unsigned char>(ch);
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += ch;
        } else if (u < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", u);
            out += esc;
        } else {
            out += ch;
        }
    }
    out += '"';
}

std::string format_log_line(double unix_time, LogLevel level, std::string_view message,
                            LogFormat format)
{
    long long total_ms = std::llround(unix_time * 1000.0);
    time_t secs = static_cast<time_t>(total_ms / 1000);
    int millis = static_cast<int>(total_ms % 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char stamp[64];
    snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    std::string line;
    if (format == LogFormat::json) {
        line = std::string("{\"time\":\"") + stamp + "\",\"level\":\"" + log_level_name(level) + "\",\"msg\":";
        append_json_string(line, message);
        line += "}\n";
        return line;
    }
    line = stamp;
    line += ' ';
    line += log_level_name(level);
    line += ' ';
    line += message;
    line += '\n';
    return line;
}

void Log::write(LogLevel level, const char* fmt, ...)
{
    if (!enabled(level))
        return;
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    struct timeval tv;
    gettimeofday(&tv, nullptr);
    std::string line = format_log_line(tv.tv_sec + tv.tv_usec / 1e6, level, message, format_);
    // One fwrite per line so concurrent writers to the same terminal never interleave.
    fwrite(line.data(), 1, line.size(), out_);
    fflush(out_);
}
