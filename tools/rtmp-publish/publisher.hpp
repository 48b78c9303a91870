// An RTMP publisher on librtmp: connect, publish, send FLV tags, close. librtmp is
// the library OBS's RTMP output derives from, so this is how OBS talks to us.
#pragma once

#include "flv_reader.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace rtmp_publish {

// Exit codes of rtmp-publish (also the outcome of publish()).
enum ExitCode : int {
  exit_ok = 0,           // every tag sent, connection closed cleanly
  exit_bad_file = 1,     // the FLV file cannot be read or parsed
  exit_usage = 2,        // bad command line or URL
  exit_refused = 3,      // the server refused the publish or closed the connection
  exit_unreachable = 4,  // no TCP connection, or the server did not answer in time
  exit_interrupted = 130,
};

struct PublishOptions {
  std::string url;                           // rtmp://host[:port]/app/key
  bool realtime = false;                     // pace tags by their timestamps
  std::uint32_t loops = 1;                   // times to send the file; 0 = until interrupted
  std::chrono::milliseconds timeout{10000};  // for connecting and each server answer
  std::uint32_t chunk_size = 0;              // outgoing chunk size to announce; 0 = librtmp's 128
  bool verbose = false;                      // librtmp's own log on stderr
};

struct PublishReport {
  int exit_code = exit_ok;
  std::string message;  // one line: what happened (for stderr when not ok)
  std::uint64_t tags_sent = 0;
  std::uint64_t bytes_sent = 0;         // tag data bytes
  std::uint32_t last_timestamp_ms = 0;  // media time of the last tag sent
};

// Publishes `tags` (from parse_flv) to options.url. Never throws for network
// trouble: the outcome is in the report.
PublishReport publish(const std::vector<FlvTag>& tags, const PublishOptions& options);

// Set from a SIGINT/SIGTERM handler: publish() stops sending and closes.
void request_stop();

}  // namespace rtmp_publish
