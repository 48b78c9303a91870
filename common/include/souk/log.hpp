// Structured logging over spdlog: one message plus key/value fields, rendered as
// text ("msg key=value ...") or as one JSON object per line (--log-format json).
#pragma once

#include <spdlog/formatter.h>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

namespace souk::log {

enum class Format { text, json };

// Installs the process-wide logger (stderr). Safe to call again to reconfigure.
void init(spdlog::level::level_enum level, Format format);

// The formatter init() gives the logger's sink (exposed for tests). JSON lines are
// {"ts":"2026-11-24T10:26:20.123Z","level":"info","msg":"...",<fields>}: ts in
// RFC 3339 UTC with milliseconds, level as --log-level names it; a field named
// ts, level or msg is written as ts_, level_ or msg_.
std::unique_ptr<spdlog::formatter> make_formatter(Format format);

// A field value is kept as text; `quoted` says whether JSON needs it as a string.
// Bare fields print in text mode as the value alone (for the access log's
// "GET /path 200"), and in JSON as a normal key.
struct Field {
  std::string_view key;
  std::string value;
  bool quoted = true;
  bool bare = false;

  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, std::int64_t v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, int v) : Field(k, static_cast<std::int64_t>(v)) {}
  Field(std::string_view k, unsigned v) : Field(k, static_cast<std::int64_t>(v)) {}
  Field(std::string_view k, std::uint64_t v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, double v);
  Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false"), quoted(false) {}
};

inline Field bare(Field f) {
  f.bare = true;
  return f;
}

// Renders msg and fields for the current format (exposed for tests).
std::string render(std::string_view msg, std::initializer_list<Field> fields);

void write(spdlog::level::level_enum level, std::string_view msg,
           std::initializer_list<Field> fields);

inline bool enabled(spdlog::level::level_enum level) {
  return spdlog::default_logger_raw()->should_log(level);
}

inline void debug(std::string_view msg, std::initializer_list<Field> f = {}) {
  if (enabled(spdlog::level::debug)) write(spdlog::level::debug, msg, f);
}
inline void info(std::string_view msg, std::initializer_list<Field> f = {}) {
  if (enabled(spdlog::level::info)) write(spdlog::level::info, msg, f);
}
inline void warn(std::string_view msg, std::initializer_list<Field> f = {}) {
  if (enabled(spdlog::level::warn)) write(spdlog::level::warn, msg, f);
}
inline void error(std::string_view msg, std::initializer_list<Field> f = {}) {
  if (enabled(spdlog::level::err)) write(spdlog::level::err, msg, f);
}

}  // namespace souk::log
