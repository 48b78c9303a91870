// Fuzz target: FLV audio/video tag bodies to frames and media information, and
// the input read as a run of 32-bit timestamps through TimestampRepair.
// Oracles: a parsed tag is of the kind asked for, its payload starts inside the
// body, right after the header its codec has (AVC 5 bytes, AAC 2, others 1), and
// only AVC and AAC have sequence headers; the frame names the codec in the
// media information. Repaired timestamps never go back on a track and never
// jump forward by more than max_jump_forward_ms; a clamped one repeats the
// previous dts, a rebased one follows it by one frame interval (at most 1 s).
#include "souk/ingest/flv.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace souk::ingest;
  auto buffer = std::make_shared<std::vector<std::uint8_t>>(data, data + size);
  for (const auto kind : {MediaKind::audio, MediaKind::video}) {
    MediaInfo info;
    const auto tag = parse_tag(kind, *buffer);
    if (!tag) continue;
    if (size == 0 || tag->kind != kind || tag->offset > size) __builtin_trap();
    const bool avc = kind == MediaKind::video && tag->codec_id == codec_avc;
    const bool aac = kind == MediaKind::audio && tag->codec_id == codec_aac;
    if (tag->offset != (avc ? 5u : aac ? 2u : 1u)) __builtin_trap();
    if (tag->sequence_header && !avc && !aac) __builtin_trap();
    Frame f;
    f.kind = kind;
    f.codec_id = tag->codec_id;
    f.sequence_header = tag->sequence_header;
    f.buffer = buffer;
    f.offset = tag->offset;
    info.apply_frame(f);
    const auto* codec = kind == MediaKind::video ? (info.video ? &info.video->codec : nullptr)
                                                 : (info.audio ? &info.audio->codec : nullptr);
    if (!codec || codec->empty()) __builtin_trap();
    if ((avc && *codec != "h264") || (aac && *codec != "aac")) __builtin_trap();
    if (info.audio && info.audio->channels && *info.audio->channels < 1) __builtin_trap();
  }

  TimestampRepair repair;
  std::optional<std::int64_t> last[2];
  for (std::size_t i = 0; i + 4 <= size; i += 4) {
    const std::uint32_t ts = (std::uint32_t{data[i]} << 24) | (std::uint32_t{data[i + 1]} << 16) |
                             (std::uint32_t{data[i + 2]} << 8) | data[i + 3];
    const auto kind = i % 8 == 0 ? MediaKind::audio : MediaKind::video;
    const auto r = repair.next(kind, ts);
    auto& previous = last[kind == MediaKind::audio ? 0 : 1];
    if (!previous) {
      if (r.repair != TimestampRepair::Repair::none) __builtin_trap();
    } else {
      const auto step = r.dts - *previous;
      if (step < 0 || step > TimestampRepair::max_jump_forward_ms) __builtin_trap();
      if (r.repair == TimestampRepair::Repair::clamped && step != 0) __builtin_trap();
      if (r.repair == TimestampRepair::Repair::rebased && (step <= 0 || step > 1000)) __builtin_trap();
    }
    previous = r.dts;
  }
  return 0;
}
