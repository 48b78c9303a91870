// How rtmp-load writes each RTMP message: the syscalls and chunk headers of the
// publisher it stands for (--pattern). What the server sees differs by client:
//
//   ffmpeg   libavformat/rtmppkt.c ff_rtmp_packet_write: one send for the chunk
//            header, one per chunk body, a separate 1-byte send of the format 3
//            header between chunks. Audio and script data on chunk stream 4, video
//            on 6; 60000-byte chunks (ffmpeg 5.1 sends Set Chunk Size 60000 after
//            connect, as strace shows). With -re it looks for due packets every
//            10 ms, so what falls due in between goes out together (pacer.hpp).
//            Its socket keeps Nagle's algorithm on.
//   librtmp  RTMP_SendPacket, the path OBS takes: one send per chunk, the chunk's
//            header in the same send. Everything on chunk stream 4; 4096-byte chunks
//            (OBS's Set Chunk Size). TCP_NODELAY (RTMP_Connect0).
//   tag      rtmp-load's former way, no real client's: a whole message (format 0
//            header, chunks and the format 3 headers between them) in one writev,
//            together with the other messages due at the same time.
//
// A message on the wire is   H B0 M B1 M ... B(n-1)   (H its first chunk header, Bj
// chunk j's body, M the 1-byte format 3 header); a pattern only says where in that
// sequence each syscall ends.
#pragma once

#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace rtmp_load {

enum class Pattern { ffmpeg, librtmp, tag };

std::optional<Pattern> parse_pattern(std::string_view name);
const char* pattern_name(Pattern p);
// The chunk size the client announces and uses.
std::uint32_t default_chunk_size(Pattern p);
// How often the client looks for media that has come due (0: at each tag's time).
std::uint32_t default_pace_ms(Pattern p);
// Whether the client leaves Nagle's algorithm on (no TCP_NODELAY).
inline bool uses_nagle(Pattern p) { return p == Pattern::ffmpeg; }
// Whether several due messages share one writev (only `tag`).
inline bool coalesces(Pattern p) { return p == Pattern::tag; }

// One message's bytes as they go on the wire, without copying the body.
struct WireMessage {
  const std::uint8_t* head = nullptr;  // the first chunk header (control: + body)
  std::size_t head_size = 0;
  const std::uint8_t* marker = nullptr;  // the 1-byte format 3 header
  const char* body = nullptr;
  std::size_t body_size = 0;
  std::size_t chunk_size = 1;
  std::size_t size() const;
};

// Where the syscall that starts at byte `offset` of the message ends (exclusive).
std::size_t write_end(Pattern p, const WireMessage& m, std::size_t offset);

// Appends iovecs for bytes [from, to) of the message, at most `room`; returns how
// many it appended (fewer bytes than asked when room runs out).
std::size_t gather(const WireMessage& m, std::size_t from, std::size_t to, iovec* out,
                   std::size_t room);

// What a message header carries (RTMP spec 5.3.1.2).
struct MessageInfo {
  std::uint8_t type = 0;
  std::uint32_t length = 0;
  std::uint32_t timestamp = 0;
  std::uint32_t stream_id = 0;
};

// The chunk header state a client keeps for its media chunk streams (what the
// previous message on each carried) and its rule for how much of a header to
// repeat: format 0 = 12 bytes, 1 = 8 (no stream id), 2 = 4 (timestamp delta only),
// 3 = 1 (nothing new). One per connection.
class ChunkHeaders {
 public:
  static constexpr std::size_t max_size = 12;  // timestamps stay below 0xFFFFFF
  // Writes the message's first chunk header into `out` (max_size bytes of room);
  // returns its size and sets `csid`.
  std::size_t encode(Pattern p, const MessageInfo& m, std::uint8_t* out, std::uint8_t& csid);

 private:
  struct Previous {
    bool valid = false;
    MessageInfo message;
    std::uint32_t timestamp_field = 0;  // what the header carried: absolute or delta
  };
  std::array<Previous, 8> previous_{};
};

}  // namespace rtmp_load
