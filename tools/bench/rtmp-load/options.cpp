// Command line of rtmp-load (see options.hpp and the usage text below).
#include "options.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <string_view>
#include <thread>

namespace rtmp_load {
namespace {

constexpr const char* usage_text =
    "usage: rtmp-load --flv FILE (--urls FILE | --url-template URL --count N) [options]\n"
    "\n"
    "Publishes FILE over RTMP on many connections from one process (librtmp handshakes,\n"
    "then non-blocking sockets paced by a timer heap), each in real time, looping the file\n"
    "with timestamps continuing.\n"
    "  --urls FILE           publish URLs, one rtmp://HOST:PORT/APP/KEY a line ('#' comments)\n"
    "  --url-template URL    a URL with {i} replaced by 0..N-1 (with --count)\n"
    "  --count N             publishers (with --urls: the first N lines)\n"
    "  --flv FILE            the FLV file every publisher replays (read once)\n"
    "  --duration SECONDS    media each publisher sends (default 30; at most 16000)\n"
    "  --ramp SECONDS        spread connection starts evenly over this (default 0)\n"
    "  --threads N           sender threads (default: one per core)\n"
    "  --connect-threads N   threads for the blocking RTMP handshakes (default 8)\n"
    "  --pattern NAME        how each message is written, as a real client does:\n"
    "                        ffmpeg (default: header, then each chunk, and the 1-byte\n"
    "                        format 3 header between chunks, each its own send; csid 4\n"
    "                        audio, 6 video), librtmp (OBS's lineage: one send per chunk,\n"
    "                        header included; csid 4) or tag (a whole message per writev,\n"
    "                        no client's; for comparison)\n"
    "  --chunk-size N        outgoing RTMP chunk size (default: the pattern's, ffmpeg\n"
    "                        60000, librtmp and tag 4096)\n"
    "  --sndbuf BYTES        SO_SNDBUF per socket (default 1048576; 0 = kernel's)\n"
    "  --timeout-ms MS       connect + handshake + publish answer (default 10000)\n"
    "  --reconnect           reconnect publishers that fail or are dropped, until their\n"
    "                        duration is over\n"
    "  --reconnect-delay-ms MS  wait before reconnecting (default 1000)\n"
    "  --max-backlog-ms MS   drop a connection whose unsent media is older (default 10000)\n"
    "  --batch-ms MS         when a tag comes due, also send the connection's tags due in\n"
    "                        the next MS ms, in one write (default 0: each tag on time)\n"
    "  --pace-ms MS          0: send each tag at its timestamp; N: as ffmpeg -re does,\n"
    "                        read while no stream is ahead of the clock, else sleep N ms,\n"
    "                        and interleave audio and video (default: the pattern's,\n"
    "                        ffmpeg 10, librtmp and tag 0)\n"
    "  --report FILE         write the JSON summary there ('-' = stdout)\n"
    "  --keyframe-log FILE   write keyframe send times as CSV (conn,session,ts_ms,sent_at_ms)\n"
    "                        instead of into the report\n"
    "  --progress SECONDS    a progress line on stderr this often (default 5; 0 = none)\n"
    "  --verbose             librtmp's log on stderr\n"
    "Exit codes: 0 every publisher connected and sent its duration; 1 some failed or were\n"
    "dropped; 2 usage or bad file; 130 interrupted.\n";

template <typename T>
std::optional<T> parse_number(std::string_view text, T min, T max) {
  T value{};
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || value < min || value > max) return std::nullopt;
  return value;
}

// Seconds with an optional fraction ("2", "0.5") to milliseconds.
std::optional<std::uint32_t> parse_seconds(std::string_view text, double max) {
  double value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || !(value >= 0) || value > max) return std::nullopt;
  return static_cast<std::uint32_t>(value * 1000.0 + 0.5);
}

std::string trim(std::string s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

}  // namespace

std::optional<Options> parse_options(int argc, char** argv, bool& help) {
  Options o;
  std::string url_file;
  std::string url_template;
  std::optional<std::size_t> count;
  const auto fail = [](const std::string& message) {
    std::fprintf(stderr, "rtmp-load: %s\n%s", message.c_str(), usage_text);
    return std::optional<Options>();
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::optional<std::string> inline_value;
    if (arg.rfind("--", 0) == 0) {
      if (const auto eq = arg.find('='); eq != std::string::npos) {
        inline_value = arg.substr(eq + 1);
        arg.resize(eq);
      }
    }
    if (arg == "--help" || arg == "-h") {
      help = true;
      std::fputs(usage_text, stdout);
      return std::nullopt;
    }
    if (arg == "--reconnect" || arg == "--verbose") {
      if (inline_value) return fail(arg + " takes no value");
      (arg == "--reconnect" ? o.reconnect : o.verbose) = true;
      continue;
    }
    std::string value;
    if (inline_value) {
      value = *inline_value;
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return fail(arg + " needs a value");
    }
    bool ok = true;
    const auto set_u32 = [&](std::uint32_t& out, std::uint32_t min, std::uint32_t max) {
      const auto n = parse_number<std::uint32_t>(value, min, max);
      ok = n.has_value();
      if (n) out = *n;
    };
    if (arg == "--urls") {
      url_file = value;
    } else if (arg == "--url-template") {
      url_template = value;
    } else if (arg == "--count") {
      const auto n = parse_number<std::size_t>(value, 1, 100000);
      ok = n.has_value();
      count = n;
    } else if (arg == "--flv") {
      o.flv = value;
    } else if (arg == "--duration") {
      const auto ms = parse_seconds(value, 16000);
      ok = ms.has_value() && *ms > 0;
      if (ok) o.duration_ms = *ms;
    } else if (arg == "--ramp") {
      const auto ms = parse_seconds(value, 3600);
      ok = ms.has_value();
      if (ok) o.ramp_ms = *ms;
    } else if (arg == "--threads" || arg == "--connect-threads") {
      const auto n = parse_number<unsigned>(value, 1, 256);
      ok = n.has_value();
      if (ok) (arg == "--threads" ? o.threads : o.connect_threads) = *n;
    } else if (arg == "--pattern") {
      const auto p = parse_pattern(value);
      ok = p.has_value();
      if (ok) o.pattern = *p;
    } else if (arg == "--chunk-size") {
      set_u32(o.chunk_size, 128, 1 << 24);
    } else if (arg == "--sndbuf") {
      const auto n = parse_number<int>(value, 0, 1 << 28);
      ok = n.has_value();
      if (ok) o.sndbuf = *n;
    } else if (arg == "--timeout-ms") {
      set_u32(o.timeout_ms, 100, 600000);
    } else if (arg == "--reconnect-delay-ms") {
      set_u32(o.reconnect_delay_ms, 0, 600000);
    } else if (arg == "--batch-ms") {
      set_u32(o.batch_ms, 0, 1000);
    } else if (arg == "--pace-ms") {
      std::uint32_t ms = 0;
      set_u32(ms, 0, 1000);
      if (ok) o.pace_ms = ms;
    } else if (arg == "--max-backlog-ms") {
      set_u32(o.max_backlog_ms, 100, 3600000);
    } else if (arg == "--report") {
      o.report = value;
    } else if (arg == "--keyframe-log") {
      o.keyframe_log = value;
    } else if (arg == "--progress") {
      set_u32(o.progress_s, 0, 3600);
    } else {
      return fail("unknown option " + arg);
    }
    if (!ok) return fail(arg + ": bad value '" + value + "'");
  }

  if (o.flv.empty()) return fail("--flv FILE is required");
  if (url_file.empty() == url_template.empty()) {
    return fail("give either --urls FILE or --url-template URL --count N");
  }
  if (!url_file.empty()) {
    std::ifstream in(url_file);
    if (!in) return fail("cannot read " + url_file);
    for (std::string line; std::getline(in, line);) {
      line = trim(line);
      if (line.empty() || line[0] == '#') continue;
      o.urls.push_back(line);
      if (count && o.urls.size() == *count) break;
    }
    if (o.urls.empty()) return fail(url_file + " holds no URL");
    if (count && o.urls.size() < *count) {
      return fail(url_file + " holds " + std::to_string(o.urls.size()) +
                  " URLs, fewer than --count");
    }
  } else {
    if (!count) return fail("--url-template needs --count N");
    if (url_template.find("{i}") == std::string::npos) return fail("--url-template has no {i}");
    for (std::size_t n = 0; n < *count; ++n) {
      std::string url = url_template;
      for (auto at = url.find("{i}"); at != std::string::npos; at = url.find("{i}", at)) {
        const std::string index = std::to_string(n);
        url.replace(at, 3, index);
        at += index.size();
      }
      o.urls.push_back(std::move(url));
    }
  }
  for (const auto& url : o.urls) {
    // Never echo a URL: it carries a stream key.
    if (url.rfind("rtmp://", 0) != 0) return fail("every URL must start with rtmp://");
  }
  if (o.chunk_size == 0) o.chunk_size = default_chunk_size(o.pattern);
  if (!o.pace_ms) o.pace_ms = default_pace_ms(o.pattern);
  if (o.threads == 0) o.threads = std::max(1u, std::thread::hardware_concurrency());
  return o;
}

}  // namespace rtmp_load
