// Log: leveled, timestamped event lines on standard error, one line per event.
// Owned by main and lent by reference to the server; there is no global logger.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

enum class LogLevel { debug, info, warn, error };
enum class LogFormat { text, json };

std::optional<LogLevel> parse_log_level(std::string_view name);
const char* log_level_name(LogLevel level);

// text: "2026-11-24T23:50:01.123Z info message"; json: {"time":"...","level":"info",
// "msg":"message"} with the message escaped. UTC, millisecond resolution, one line.
std::string format_log_line(double unix_time, LogLevel level, std::string_view message,
                            LogFormat format = LogFormat::text);
// Appends s as a JSON string: quoted, '"' and '\\' escaped, control bytes as \u00XX,
// everything else as it is (UTF-8 passes through).
void append_json_string(std::string& out, std::string_view s);

// For events that come in storms (refusals): at most one line a second, carrying the
// count of events since the last one. Owned by whoever logs the events.
class LogThrottle {
public:
    // Counts an event at `now`; returns the count to report now, or 0 to stay quiet.
    size_t count(double now)
    {
        unlogged_++;
        if (now - last_ < 1.0)
            return 0;
        last_ = now;
        size_t n = unlogged_;
        unlogged_ = 0;
        return n;
    }

private:
    double last_ = -1e9;
    size_t unlogged_ = 0;
};

class Log {
public:
    explicit Log(LogLevel level = LogLevel::info, FILE* out = stderr) : level_(level), out_(out) {}
    Log(const Log&) = delete;
    Log& operator=(const Log&) = delete;

    void set_level(LogLevel level) { level_ = level; }
    void set_format(LogFormat format) { format_ = format; }
    bool enabled(LogLevel level) const { return level >= level_; }

    void write(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

private:
    LogLevel level_;
    LogFormat format_ = LogFormat::text;
    FILE* out_;
};
