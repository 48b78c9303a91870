// The RTMP chunk stream (RTMP spec 5.3): messages are cut into chunks that
// interleave across chunk stream ids (csid). ChunkReader reassembles, ChunkWriter
// cuts. Both are pure: bytes in, messages out, and the reverse.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace souk::ingest {

// Message type ids (RTMP spec 5.4, 7.1).
enum MessageType : std::uint8_t {
  msg_set_chunk_size = 1,
  msg_abort = 2,
  msg_acknowledgement = 3,
  msg_user_control = 4,
  msg_window_ack_size = 5,
  msg_set_peer_bandwidth = 6,
  msg_audio = 8,
  msg_video = 9,
  msg_data_amf3 = 15,
  msg_command_amf3 = 17,
  msg_data_amf0 = 18,
  msg_command_amf0 = 20,
  msg_aggregate = 22,
};

struct RtmpMessage {
  std::uint32_t csid = 0;
  std::uint8_t type = 0;
  std::uint32_t timestamp = 0;  // milliseconds, wraps at 2^32
  std::uint32_t stream_id = 0;  // message stream id
  std::shared_ptr<std::vector<std::uint8_t>> payload;
};

enum class ChunkError {
  none,
  missing_header,      // format 1-3 on a chunk stream that never had format 0
  message_too_large,   // over the configured maximum
  too_many_streams,    // more chunk stream ids than allowed
  bad_chunk_size,      // Set Chunk Size of 0 or with the top bit set
  length_changed,      // a continuation chunk's header changed the message length
  partial_bytes_exceeded,  // unfinished messages would hold more than allowed
};
const char* to_string(ChunkError e);
// For the errors that are bounds on what a client may use (the rest are
// protocol errors): the reason souk_refused_total counts them under; else null.
const char* refusal_reason(ChunkError e);

struct ChunkLimits {
  std::uint32_t max_message_size = 16 * 1024 * 1024;
  std::size_t max_chunk_streams = 64;
  // Payload bytes all unfinished messages of one connection may hold together,
  // whatever their headers announce: without it, one message left one byte short
  // on each of many chunk streams keeps max_message_size per stream (issue 21).
  std::size_t max_partial_bytes = std::size_t{8} * 1024 * 1024;
};

class ChunkReader {
 public:
  explicit ChunkReader(ChunkLimits limits = {})
      : limits_(limits), message_limit_(limits.max_message_size) {}
  // Not copyable: low_ points into streams_.
  ChunkReader(const ChunkReader&) = delete;
  ChunkReader& operator=(const ChunkReader&) = delete;

  // Messages announced longer than `size` (at most limits.max_message_size) are
  // refused with message_too_large from the next header on: a session keeps it
  // small until the peer has earned more (a publish accepted).
  void set_message_limit(std::uint32_t size) { message_limit_ = std::min(size, limits_.max_message_size); }

  // Consumes `bytes`, calling `on_message` for each complete message (Set Chunk
  // Size and Abort are also applied here, as they change how the next chunks are
  // read). Payload goes straight into its message as it arrives, whatever cuts
  // the reads (ffmpeg writes a chunk's header and its body in two calls): only a
  // header cut by the end of a read waits for the next. Returns the first error;
  // the reader is then unusable.
  ChunkError feed(std::span<const std::uint8_t> bytes,
                  const std::function<void(RtmpMessage&&)>& on_message);

  std::uint32_t chunk_size() const { return chunk_size_; }
  std::uint64_t bytes_received() const { return bytes_received_; }
  // Payload bytes held in unfinished messages now.
  std::size_t partial_bytes() const { return partial_bytes_; }

 private:
  struct StreamState {
    bool has_header = false;
    bool extended = false;  // the last header used the extended timestamp
    std::uint32_t timestamp = 0;
    std::uint32_t delta = 0;
    std::uint32_t length = 0;
    std::uint8_t type = 0;
    std::uint32_t stream_id = 0;
    std::shared_ptr<std::vector<std::uint8_t>> partial;  // message being assembled
  };

  // The chunk whose header has been read and whose payload is still arriving.
  struct OpenChunk {
    std::uint32_t csid = 0;
    StreamState* stream = nullptr;  // in streams_, whose nodes never move
    std::size_t remaining = 0;      // payload bytes of this chunk still to come
  };

  // Parses the chunk header at the front of `in` and commits it (the chunk is
  // then open_): returns its size, or 0 if `in` does not hold all of it or on an
  // error (then `err` says which).
  std::size_t parse_header(std::span<const std::uint8_t> in, ChunkError& err);
  // The open chunk's payload is all here: closes it, and delivers its message
  // if that is whole too (applying Set Chunk Size and Abort first).
  ChunkError close_chunk(const std::function<void(RtmpMessage&&)>& on_message);

  ChunkLimits limits_;
  std::uint32_t message_limit_;
  std::uint32_t chunk_size_ = 128;  // the protocol's initial chunk size
  std::optional<OpenChunk> open_;
  std::vector<std::uint8_t> header_;  // the start of a header the last read cut off
  // The stream of `csid`, or null. Every chunk looks its stream up: chunk
  // stream ids below 64 (one-byte basic headers, what encoders use) go through
  // `low_`, pointers into streams_, whose nodes never move.
  StreamState* find_stream(std::uint32_t csid) {
    if (csid < low_.size()) return low_[csid];
    const auto it = streams_.find(csid);
    return it == streams_.end() ? nullptr : &it->second;
  }

  StreamState& add_stream(std::uint32_t csid) {
    StreamState& s = streams_.try_emplace(csid).first->second;
    if (csid < low_.size()) low_[csid] = &s;
    return s;
  }

  std::unordered_map<std::uint32_t, StreamState> streams_;
  std::array<StreamState*, 64> low_{};
  std::uint64_t bytes_received_ = 0;
  std::size_t partial_bytes_ = 0;  // the sum of every stream's partial->size()
};

class ChunkWriter {
 public:
  void set_chunk_size(std::uint32_t size) { chunk_size_ = size; }
  std::uint32_t chunk_size() const { return chunk_size_; }

  // Appends the chunks of one message: format 0, then format 3 continuations
  // (repeating the extended timestamp when one is used, RTMP spec 5.3.1.3).
  void write(std::uint32_t csid, std::uint8_t type, std::uint32_t timestamp,
             std::uint32_t stream_id, std::span<const std::uint8_t> payload,
             std::vector<std::uint8_t>& out) const;

 private:
  std::uint32_t chunk_size_ = 128;
};

}  // namespace souk::ingest
