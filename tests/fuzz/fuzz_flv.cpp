// Fuzz target: FLV audio/video tag bodies to frames and media information.
#include "souk/ingest/flv.hpp"

#include <cstdint>
#include <memory>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace souk::ingest;
  auto buffer = std::make_shared<std::vector<std::uint8_t>>(data, data + size);
  MediaInfo info;
  for (const auto kind : {MediaKind::audio, MediaKind::video}) {
    const auto tag = parse_tag(kind, *buffer);
    if (!tag) continue;
    if (tag->offset > buffer->size()) __builtin_trap();
    Frame f;
    f.kind = kind;
    f.codec_id = tag->codec_id;
    f.sequence_header = tag->sequence_header;
    f.buffer = buffer;
    f.offset = tag->offset;
    info.apply_frame(f);
  }
  TimestampRepair repair;
  for (std::size_t i = 0; i + 4 <= size; i += 4) {
    const std::uint32_t ts = (std::uint32_t{data[i]} << 24) | (std::uint32_t{data[i + 1]} << 16) |
                             (std::uint32_t{data[i + 2]} << 8) | data[i + 3];
    const auto r = repair.next(i % 8 == 0 ? MediaKind::audio : MediaKind::video, ts);
    (void)r;
  }
  return 0;
}
