// rtmp-publish: sends an FLV file to an RTMP server the way OBS does (librtmp),
// for tests and for trying an ingest server by hand.
//
//   rtmp-publish [--realtime] [--loop N] [--timeout-ms MS] [--chunk-size N] [--verbose]
//                FILE.flv rtmp://HOST[:PORT]/APP/KEY
//
// Exit codes: 0 every tag sent and the connection closed cleanly; 1 the file cannot
// be read or is not FLV; 2 usage; 3 the server refused the publish or closed the
// connection; 4 no TCP connection, or no answer within --timeout-ms; 130 SIGINT or
// SIGTERM (the connection is closed first). Anything but 0 prints one line on stderr.
#include "flv_reader.hpp"
#include "publisher.hpp"

#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace rtmp_publish;

constexpr const char* usage_text =
    "usage: rtmp-publish [--realtime] [--loop N] [--timeout-ms MS] [--chunk-size N] [--verbose]\n"
    "                    FILE.flv rtmp://HOST[:PORT]/APP/KEY\n"
    "\n"
    "Publishes the audio, video and script-data tags of FILE.flv over RTMP (librtmp).\n"
    "  --realtime       send each tag when its timestamp comes due, like a live encoder\n"
    "                   (default: as fast as the connection takes them)\n"
    "  --loop N         send the file N times, timestamps continuing (default 1; 0 = until\n"
    "                   interrupted)\n"
    "  --timeout-ms MS  how long to wait for the server to connect and to answer\n"
    "                   (default 10000)\n"
    "  --chunk-size N   announce and use N-byte outgoing chunks (default: librtmp's 128)\n"
    "  --verbose        print librtmp's log\n"
    "Exit codes: 0 sent and closed cleanly, 1 bad file, 2 usage, 3 refused or closed by the\n"
    "server, 4 cannot connect or timed out, 130 interrupted.\n";

struct Args {
  PublishOptions options;
  std::string file;
};

std::optional<std::uint32_t> parse_number(std::string_view text, std::uint32_t min,
                                          std::uint32_t max) {
  std::uint32_t value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || value < min || value > max) return std::nullopt;
  return value;
}

// Parses argv; on error prints one line and returns nullopt.
std::optional<Args> parse_args(int argc, char** argv, bool& help) {
  Args args;
  std::vector<std::string> positional;
  const auto fail = [](const std::string& message) {
    std::fprintf(stderr, "rtmp-publish: %s\n%s", message.c_str(), usage_text);
    return std::optional<Args>();
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
    const auto value = [&]() -> std::optional<std::string> {
      if (inline_value) return inline_value;
      if (i + 1 < argc) return std::string(argv[++i]);
      return std::nullopt;
    };
    if (arg == "--help" || arg == "-h") {
      help = true;
      return std::nullopt;
    }
    if (arg == "--realtime" || arg == "--verbose") {
      if (inline_value) return fail(arg + " takes no value");
      (arg == "--realtime" ? args.options.realtime : args.options.verbose) = true;
    } else if (arg == "--loop" || arg == "--timeout-ms" || arg == "--chunk-size") {
      const auto text = value();
      if (!text) return fail(arg + " needs a value");
      std::optional<std::uint32_t> n;
      if (arg == "--loop") {
        n = parse_number(*text, 0, 1000000);
        if (n) args.options.loops = *n;
      } else if (arg == "--timeout-ms") {
        n = parse_number(*text, 1, 3600000);
        if (n) args.options.timeout = std::chrono::milliseconds(*n);
      } else {
        n = parse_number(*text, 1, 0x7FFFFFFF);  // RTMP spec 5.4.1: 31 bits
        if (n) args.options.chunk_size = *n;
      }
      if (!n) return fail(arg + ": bad value '" + *text + "'");
    } else if (arg.size() > 1 && arg[0] == '-') {
      return fail("unknown option " + arg);
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() != 2) return fail("expected FILE.flv and an rtmp:// URL");
  args.file = positional[0];
  args.options.url = positional[1];
  if (args.options.url.rfind("rtmp://", 0) != 0) {
    return fail("the URL must start with rtmp://, got '" + args.options.url + "'");
  }
  return args;
}

void on_stop_signal(int) { request_stop(); }

}  // namespace

int main(int argc, char** argv) {
  bool help = false;
  const auto args = parse_args(argc, argv, help);
  if (help) {
    std::fputs(usage_text, stdout);
    return exit_ok;
  }
  if (!args) return exit_usage;

  std::string bytes;
  std::string error;
  if (!read_file(args->file, bytes, error)) {
    std::fprintf(stderr, "rtmp-publish: %s\n", error.c_str());
    return exit_bad_file;
  }
  const FlvParseResult flv = parse_flv(bytes);
  if (!flv.error.empty()) {
    std::fprintf(stderr, "rtmp-publish: %s: %s\n", args->file.c_str(), flv.error.c_str());
    return exit_bad_file;
  }

  // A closed connection must fail a write, not kill us; SIGINT/SIGTERM close first.
  std::signal(SIGPIPE, SIG_IGN);
  struct sigaction stop {};
  stop.sa_handler = on_stop_signal;
  sigemptyset(&stop.sa_mask);
  stop.sa_flags = 0;  // no SA_RESTART: blocking reads return EINTR
  sigaction(SIGINT, &stop, nullptr);
  sigaction(SIGTERM, &stop, nullptr);

  const PublishReport result = publish(flv.tags, args->options);
  if (result.exit_code != exit_ok) {
    std::fprintf(stderr, "rtmp-publish: %s\n", result.message.c_str());
    return result.exit_code;
  }
  std::printf("rtmp-publish: sent %llu tags (%llu bytes, %u ms of media)\n",
              static_cast<unsigned long long>(result.tags_sent),
              static_cast<unsigned long long>(result.bytes_sent), result.last_timestamp_ms);
  return exit_ok;
}
