// Fuzz target: bytes after the handshake, as a publisher would send them: the
// chunk stream, and what the session makes of each message (commands in AMF0,
// metadata, FLV audio/video tags). The input is fed in pieces whose sizes come
// from the input itself, so reassembly across reads is exercised too.
#include "souk/ingest/amf0.hpp"
#include "souk/ingest/chunk_stream.hpp"
#include "souk/ingest/flv.hpp"
#include "souk/ingest/rtmp_command.hpp"

#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace souk::ingest;
  if (size < 1) return 0;
  const std::size_t piece = 1 + data[0] % 64;
  ChunkReader reader({64 * 1024, 16});
  souk::ingest::MediaInfo info;
  TimestampRepair repair;
  const auto on_message = [&](RtmpMessage&& m) {
    const auto& p = *m.payload;
    switch (m.type) {
      case msg_command_amf0:
        (void)parse_command(p);
        break;
      case msg_data_amf0:
        if (auto v = amf0::decode_all(p); v && !v->empty()) info.apply_metadata(v->back());
        break;
      case msg_audio:
      case msg_video: {
        const auto kind = m.type == msg_audio ? MediaKind::audio : MediaKind::video;
        if (const auto tag = parse_tag(kind, p)) {
          Frame f;
          f.kind = kind;
          f.codec_id = tag->codec_id;
          f.sequence_header = tag->sequence_header;
          f.buffer = m.payload;
          f.offset = tag->offset;
          info.apply_frame(f);
          (void)repair.next(kind, m.timestamp);
        }
        break;
      }
      default:
        break;
    }
  };
  for (std::size_t pos = 1; pos < size; pos += piece) {
    const auto n = std::min(piece, size - pos);
    if (reader.feed(std::span(data + pos, n), on_message) != ChunkError::none) break;
  }
  return 0;
}
