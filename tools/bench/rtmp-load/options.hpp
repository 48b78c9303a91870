// rtmp-load's command line.
#pragma once

#include "write_pattern.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rtmp_load {

struct Options {
  std::vector<std::string> urls;      // one per publisher: rtmp://host:port/app/key
  std::string flv;                    // the file every publisher replays
  std::uint32_t duration_ms = 30000;  // media each publisher sends (the file loops)
  std::uint32_t ramp_ms = 0;          // connection starts spread evenly over this
  unsigned threads = 0;               // sender threads; 0 = one per core
  unsigned connect_threads = 8;       // threads doing the blocking librtmp handshakes
  Pattern pattern = Pattern::ffmpeg;  // whose writes to reproduce
  std::uint32_t chunk_size = 0;       // outgoing chunk size; 0 = the pattern's
  int sndbuf = 1 << 20;               // SO_SNDBUF asked for each socket; 0 = kernel default
  std::uint32_t timeout_ms = 10000;   // connect, handshake and publish answer
  bool reconnect = false;             // reconnect dropped or failed publishers
  std::uint32_t reconnect_delay_ms = 1000;
  std::uint32_t max_backlog_ms = 10000;  // unsent media older than this drops the connection
  std::uint32_t batch_ms = 0;            // send tags due within this many ms together
  std::optional<std::uint32_t> pace_ms;  // 0: tags at their time; N: ffmpeg -re (pacer.hpp)
  std::string report;                    // JSON summary path ("-" = stdout)
  std::string keyframe_log;              // CSV of keyframe send times (else in the report)
  std::uint32_t progress_s = 5;          // seconds between progress lines; 0 = none
  bool verbose = false;                  // librtmp's log on stderr
};

// Parses argv (and reads the URL file). nullopt after printing a message (or
// the usage, with `help` set) to stderr/stdout.
std::optional<Options> parse_options(int argc, char** argv, bool& help);

}  // namespace rtmp_load
