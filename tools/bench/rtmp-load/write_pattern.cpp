// Write patterns of real RTMP publishers (see write_pattern.hpp).
#include "write_pattern.hpp"

#include <algorithm>

namespace rtmp_load {
namespace {

// FLV tag types = RTMP message types (FLV spec v10.1 E.4.1; RTMP spec 7.1).
constexpr std::uint8_t type_audio = 8;
constexpr std::uint8_t type_video = 9;
constexpr std::uint8_t type_script_data = 18;

void put_be(std::uint8_t* out, std::uint32_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    out[i] = static_cast<std::uint8_t>(v & 0xff);
    v >>= 8;
  }
}

// Chunk j's body length: chunk_size, the last one what is left.
std::size_t chunk_length(const WireMessage& m, std::size_t j) {
  return std::min(m.chunk_size, m.body_size - j * m.chunk_size);
}

// The end of chunk j's body in the message (after H and j bodies and markers).
std::size_t chunk_end(const WireMessage& m, std::size_t j) {
  return m.head_size + j * (m.chunk_size + 1) + chunk_length(m, j);
}

}  // namespace

std::optional<Pattern> parse_pattern(std::string_view name) {
  if (name == "ffmpeg") return Pattern::ffmpeg;
  if (name == "librtmp") return Pattern::librtmp;
  if (name == "tag") return Pattern::tag;
  return std::nullopt;
}

const char* pattern_name(Pattern p) {
  switch (p) {
    case Pattern::ffmpeg:
      return "ffmpeg";
    case Pattern::librtmp:
      return "librtmp";
    case Pattern::tag:
      return "tag";
  }
  return "?";
}

std::uint32_t default_chunk_size(Pattern p) { return p == Pattern::ffmpeg ? 60000 : 4096; }

// fftools/ffmpeg.c (5.1): get_input_packet returns EAGAIN under -re while a
// packet is ahead of the clock, and transcode() then sleeps 10 ms.
std::uint32_t default_pace_ms(Pattern p) { return p == Pattern::ffmpeg ? 10 : 0; }

std::size_t WireMessage::size() const {
  const std::size_t chunks = (body_size + chunk_size - 1) / chunk_size;
  return head_size + body_size + (chunks > 0 ? chunks - 1 : 0);
}

std::size_t write_end(Pattern p, const WireMessage& m, std::size_t offset) {
  if (p == Pattern::tag || m.body_size == 0) return m.size();
  if (offset < m.head_size) {
    // ffmpeg sends the header alone; librtmp sends it with the first chunk.
    return p == Pattern::ffmpeg ? m.head_size : chunk_end(m, 0);
  }
  const std::size_t at = offset - m.head_size;
  const std::size_t j = at / (m.chunk_size + 1);
  if (at % (m.chunk_size + 1) < m.chunk_size) return chunk_end(m, j);  // inside a body
  // On the format 3 header after chunk j: alone (ffmpeg) or with chunk j + 1 (librtmp).
  return p == Pattern::ffmpeg ? offset + 1 : chunk_end(m, j + 1);
}

std::size_t gather(const WireMessage& m, std::size_t from, std::size_t to, iovec* out,
                   std::size_t room) {
  std::size_t count = 0;
  while (from < to && count < room) {
    std::size_t end = 0;
    const void* base = nullptr;
    if (from < m.head_size) {
      end = std::min(to, m.head_size);
      base = m.head + from;
    } else {
      const std::size_t at = from - m.head_size;
      const std::size_t j = at / (m.chunk_size + 1);
      const std::size_t within = at % (m.chunk_size + 1);
      if (within < m.chunk_size) {
        end = std::min(to, chunk_end(m, j));
        base = m.body + j * m.chunk_size + within;
      } else {
        end = from + 1;
        base = m.marker;
      }
    }
    out[count++] = iovec{const_cast<void*>(base), end - from};
    from = end;
  }
  return count;
}

std::size_t ChunkHeaders::encode(Pattern p, const MessageInfo& m, std::uint8_t* out,
                                 std::uint8_t& csid) {
  const bool audio_video = m.type == type_audio || m.type == type_video;
  csid = p == Pattern::ffmpeg && m.type == type_video ? 6 : 4;
  Previous& prev = previous_[csid];

  int format = 0;
  std::uint32_t field = m.timestamp;
  if (p == Pattern::ffmpeg) {
    // rtmpproto.c rtmp_write forgets the previous header for script data and for
    // audio or video at timestamp 0; ff_rtmp_packet_write then sends a delta
    // while time does not go back, dropping what repeats (length and type, then
    // the delta itself when it equals the previous header's timestamp field).
    if (m.type == type_script_data || (audio_video && m.timestamp == 0)) prev.valid = false;
    if (prev.valid && m.stream_id == prev.message.stream_id &&
        m.timestamp >= prev.message.timestamp) {
      field = m.timestamp - prev.message.timestamp;
      format = 1;
      if (m.type == prev.message.type && m.length == prev.message.length) {
        format = field == prev.timestamp_field ? 3 : 2;
      }
    }
  } else if (p == Pattern::librtmp) {
    // RTMP_Write asks for a full header for script data and for audio or video at
    // timestamp 0, otherwise a format 1; RTMP_SendPacket makes that a format 2
    // when length and type repeat, and a format 3 when the timestamp repeats too.
    const bool large = m.type == type_script_data || (audio_video && m.timestamp == 0);
    // A step back on the shared chunk stream (never in a file in DTS order, as the
    // fixture is) would be a negative delta, which librtmp sends as an extended
    // timestamp and this 12-byte header cannot carry: a full header instead.
    if (prev.valid && !large && m.timestamp >= prev.message.timestamp) {
      field = m.timestamp - prev.message.timestamp;
      format = 1;
      if (m.type == prev.message.type && m.length == prev.message.length) {
        format = m.timestamp == prev.message.timestamp ? 3 : 2;
      }
    }
  }

  out[0] = static_cast<std::uint8_t>((format << 6) | csid);
  std::size_t size = 1;
  if (format <= 2) {
    put_be(out + 1, field, 3);
    size = 4;
  }
  if (format <= 1) {
    put_be(out + 4, m.length, 3);
    out[7] = m.type;
    size = 8;
  }
  if (format == 0) {
    for (int i = 0; i < 4; ++i) out[8 + i] = static_cast<std::uint8_t>(m.stream_id >> (8 * i));
    size = 12;
  }
  prev = Previous{true, m, field};
  return size;
}

}  // namespace rtmp_load
