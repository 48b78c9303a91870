// One publishing connection of rtmp-load. librtmp does what is done once per
// connection (TCP connect, handshake, connect/createStream/publish, waiting for
// NetStream.Publish.Start), blocking, on a connector thread. Then the socket is
// made non-blocking and handed to a sender thread, which writes the media itself
// (shared bodies, per-connection chunk headers, as --pattern says) and reads the
// server's few messages with ChunkReader: librtmp's own send and read loops would
// block a thread serving hundreds of connections, or close on EAGAIN.
#pragma once

#include "chunk_reader.hpp"
#include "media.hpp"
#include "pacer.hpp"
#include "stats.hpp"
#include "write_pattern.hpp"

#include <librtmp/rtmp.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rtmp_load {

struct RtmpDeleter {
  void operator()(RTMP* r) const;
};
using RtmpPtr = std::unique_ptr<RTMP, RtmpDeleter>;

// A message (or what is left of it) waiting for the socket.
struct Pending {
  std::array<std::uint8_t, 24> head{};  // first chunk header (+ a small control body)
  std::uint8_t head_size = 0;
  std::uint8_t marker = 0;        // the format 3 header between chunks: 0xC0 | csid
  const MediaTag* tag = nullptr;  // media body: tag->body; null for control
  std::uint32_t chunk_size = 1;
  std::size_t written = 0;  // bytes of wire() already sent
  std::uint32_t timestamp = 0;
  Clock::time_point due{};  // when real time wanted it sent
  WireMessage wire() const {
    WireMessage m;
    m.head = head.data();
    m.head_size = head_size;
    m.marker = &marker;
    if (tag != nullptr) {
      m.body = tag->body.data();
      m.body_size = tag->body.size();
    }
    m.chunk_size = chunk_size;
    return m;
  }
};

struct Session {
  Slot* slot = nullptr;
  std::uint32_t number = 0;  // 0 for a slot's first session, then one per reconnect
  RtmpPtr rtmp;
  std::vector<char> url;  // librtmp keeps pointers into it
  int fd = -1;
  std::uint32_t stream_id = 1;

  // Incoming.
  ChunkReader reader;
  std::string leftover;  // bytes librtmp had read past Publish.Start
  std::uint64_t bytes_in = 0;
  std::uint64_t last_ack = 0;
  std::uint32_t window = 0;  // the server's Window Acknowledgement Size

  // Outgoing: the media position and what waits for the socket.
  Clock::time_point start{};
  std::uint64_t end_ms = 0;    // media time at which this session stops
  std::optional<Pacer> pacer;  // set by the sender that adopts the session
  ChunkHeaders headers;        // what the previous media message's header carried
  std::deque<Pending> queue;
  bool backlogged = false;       // counted in Totals::backlogged
  std::uint64_t generation = 0;  // matches the sender's timer entries
};

struct ConnectSettings {
  std::uint32_t timeout_ms = 10000;
  std::uint32_t chunk_size = 4096;
  int sndbuf = 0;
  bool nagle = false;  // leave Nagle's algorithm on, as ffmpeg does (librtmp turns it off)
};

// Connects and publishes `slot.url` with librtmp; on success the session's
// socket is non-blocking and it is ready for a sender. On failure, null and
// `error` says what went wrong (never with the URL).
std::unique_ptr<Session> connect_publisher(Slot& slot, const ConnectSettings& settings,
                                           std::string& error);

// A server command that ends a publish: onStatus with level "error", _error or
// close (AMF0 command, message type 20, or 17 = a format byte then AMF0).
struct ServerStatus {
  std::string name, level, code;
  bool is_refusal() const {
    return name == "_error" || name == "close" || (name == "onStatus" && level == "error");
  }
};
std::optional<ServerStatus> decode_status(std::uint8_t type, std::string_view payload);

// librtmp logs through one callback for all threads: errors go to a per-thread
// "last error", and everything to stderr when verbose.
void install_librtmp_log(bool verbose);

}  // namespace rtmp_load
