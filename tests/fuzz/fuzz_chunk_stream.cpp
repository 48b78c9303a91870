// Fuzz target: bytes after the handshake, as a publisher would send them: the
// chunk stream, and what the session makes of each message (commands in AMF0,
// metadata, FLV audio/video tags). The first byte picks how the rest is cut
// into reads (bits 0..5: piece size 1..64) and the limits (bit 7 clear: the
// production defaults, RtmpOptions{}.chunk_limits; set: small ones, so the
// limit errors are reached with short inputs).
// Oracles: reassembly does not depend on how reads cut the input (fed whole,
// the same messages and the same error come out); no message exceeds the
// limit and no more chunk streams than allowed carry messages; and what the
// ChunkWriter (the server's outbound side) cuts from each message, a fresh
// reader reassembles into the same message.
#include "souk/ingest/amf0.hpp"
#include "souk/ingest/chunk_stream.hpp"
#include "souk/ingest/flv.hpp"
#include "souk/ingest/rtmp_command.hpp"
#include "souk/ingest/rtmp_server.hpp"

#include <cstdint>
#include <set>
#include <vector>

namespace {

using namespace souk::ingest;

struct Seen {
  std::uint32_t csid;
  std::uint8_t type;
  std::uint32_t timestamp;
  std::uint32_t stream_id;
  std::vector<std::uint8_t> payload;
  bool operator==(const Seen&) const = default;
};

Seen seen(const RtmpMessage& m) { return {m.csid, m.type, m.timestamp, m.stream_id, *m.payload}; }

// What the session does with a message's payload, minus the sockets.
void consume(const RtmpMessage& m, MediaInfo& info, TimestampRepair& repair) {
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
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t piece = 1 + (data[0] & 0x3f);
  const ChunkLimits limits =
      (data[0] & 0x80) == 0 ? RtmpOptions{}.chunk_limits : ChunkLimits{64 * 1024, 4};
  const std::span<const std::uint8_t> input(data + 1, size - 1);

  ChunkReader reader(limits);
  MediaInfo info;
  TimestampRepair repair;
  std::vector<Seen> messages;
  std::vector<RtmpMessage> kept;
  std::set<std::uint32_t> csids;
  ChunkError error = ChunkError::none;
  for (std::size_t pos = 0; pos < input.size() && error == ChunkError::none; pos += piece) {
    error = reader.feed(input.subspan(pos, std::min(piece, input.size() - pos)), [&](RtmpMessage&& m) {
      if (m.payload->size() > limits.max_message_size) __builtin_trap();
      csids.insert(m.csid);
      if (csids.size() > limits.max_chunk_streams) __builtin_trap();
      messages.push_back(seen(m));
      consume(m, info, repair);
      kept.push_back(std::move(m));
    });
  }

  ChunkReader whole(limits);
  std::vector<Seen> whole_messages;
  const auto whole_error = whole.feed(input, [&](RtmpMessage&& m) { whole_messages.push_back(seen(m)); });
  if (whole_error != error || whole_messages != messages) __builtin_trap();

  // Set Chunk Size and Abort change how the reader reads what follows them: left out.
  std::vector<std::uint8_t> cut;
  std::vector<Seen> expected;
  ChunkWriter writer;
  writer.set_chunk_size(1 + data[0] % 200);
  for (const auto& m : kept) {
    if (m.type == msg_set_chunk_size || m.type == msg_abort) continue;
    writer.write(m.csid, m.type, m.timestamp, m.stream_id, *m.payload, cut);
    expected.push_back(seen(m));
  }
  if (writer.chunk_size() != 128) {
    // The reader starts at the protocol's 128 bytes; tell it, as the server does.
    std::vector<std::uint8_t> announce;
    const auto n = writer.chunk_size();
    const std::uint8_t size_bytes[4] = {0, 0, static_cast<std::uint8_t>(n >> 8),
                                        static_cast<std::uint8_t>(n)};
    ChunkWriter{}.write(2, msg_set_chunk_size, 0, 0, size_bytes, announce);
    cut.insert(cut.begin(), announce.begin(), announce.end());
    expected.insert(expected.begin(), Seen{2, msg_set_chunk_size, 0, 0, {size_bytes, size_bytes + 4}});
  }
  ChunkReader again({limits.max_message_size, limits.max_chunk_streams + 1});
  std::vector<Seen> reread;
  if (again.feed(cut, [&](RtmpMessage&& m) { reread.push_back(seen(m)); }) != ChunkError::none ||
      reread != expected) {
    __builtin_trap();
  }
  return 0;
}
