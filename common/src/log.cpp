// Structured logging: text or JSON lines on stderr, timestamps in UTC.
#include "souk/log.hpp"

#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace souk::log {
namespace {

std::atomic<Format> current_format{Format::text};

// The length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlongs,
// no surrogates, nothing above U+10FFFF), or 0 when it is not one.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // the second byte's range
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
  }
  return n;
}

// A JSON string. Input is any bytes (a client's path, an FFmpeg message): bytes
// that are not well-formed UTF-8 become U+FFFD, so every line parses.
void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      if (const auto n = utf8_sequence(s, i); n > 0) {
        out.append(s.substr(i, n));
        i += n - 1;
      } else {
        out += "\\ufffd";
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

bool needs_quotes_in_text(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) return true;
  }
  return false;
}

// Level names as --log-level spells them (spdlog says "warning" and "err").
std::string_view level_name(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "off";
  }
}

// The keys every JSON line starts with; a field with one of these names is
// written with a trailing underscore, so no line has a key twice.
bool reserved_key(std::string_view key) { return key == "ts" || key == "level" || key == "msg"; }

constexpr std::string_view json_payload_start = "\"msg\":";

// {"ts":"2026-11-24T10:26:20.123Z","level":"info",<payload>}
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    using namespace std::chrono;
    const auto since_epoch = msg.time.time_since_epoch();
    const auto secs = duration_cast<seconds>(since_epoch);
    const auto millis = duration_cast<milliseconds>(since_epoch - secs).count();
    const std::time_t t = secs.count();
    std::tm tm{};
    gmtime_r(&t, &tm);
    char ts[64];
    std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(millis));
    const auto level = level_name(msg.level);
    std::string head = "{\"ts\":\"";
    head += ts;
    head += "\",\"level\":\"";
    head.append(level.data(), level.size());
    head += "\",";
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    if (!payload.starts_with(json_payload_start)) {
      // Not rendered by write() (a library logging through spdlog): the whole
      // text is the message.
      head += json_payload_start;
      append_json_string(head, payload);
      dest.append(head.data(), head.data() + head.size());
    } else {
      dest.append(head.data(), head.data() + head.size());
      dest.append(payload.data(), payload.data() + payload.size());
    }
    dest.push_back('}');
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

Field::Field(std::string_view k, double v) : key(k), quoted(false) {
  if (!std::isfinite(v)) {
    value = "null";  // JSON has no NaN or infinity
    return;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  value = buf;
}

std::unique_ptr<spdlog::formatter> make_formatter(Format format) {
  if (format == Format::json) return std::make_unique<JsonFormatter>();
  return std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ %l %v",
                                                     spdlog::pattern_time_type::utc);
}

void init(spdlog::level::level_enum level, Format format) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("souk", sink);
  logger->set_formatter(make_formatter(format));
  logger->set_level(level);
  logger->flush_on(spdlog::level::trace);
  current_format.store(format);
  spdlog::set_default_logger(std::move(logger));
}

std::string render(std::string_view msg, std::initializer_list<Field> fields) {
  std::string out;
  out.reserve(msg.size() + fields.size() * 24);
  if (current_format.load(std::memory_order_relaxed) == Format::json) {
    out += json_payload_start;
    append_json_string(out, msg);
    for (const auto& f : fields) {
      out += ',';
      if (reserved_key(f.key)) {
        append_json_string(out, std::string(f.key) + "_");
      } else {
        append_json_string(out, f.key);
      }
      out += ':';
      if (f.quoted) {
        append_json_string(out, f.value);
      } else {
        out += f.value;
      }
    }
    return out;
  }
  out += msg;
  for (const auto& f : fields) {
    out += ' ';
    if (!f.bare) {
      out += f.key;
      out += '=';
    }
    if (!f.bare && f.quoted && needs_quotes_in_text(f.value)) {
      append_json_string(out, f.value);
    } else {
      out += f.value;
    }
  }
  return out;
}

void write(spdlog::level::level_enum level, std::string_view msg,
           std::initializer_list<Field> fields) {
  const std::string line = render(msg, fields);
  spdlog::default_logger_raw()->log(level, spdlog::string_view_t(line.data(), line.size()));
}

}  // namespace souk::log
