// One audio or video access unit as ingest hands it on. Frames are immutable and
// shared (std::shared_ptr<const Frame>): every consumer reads the same payload.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace souk::ingest {

enum class MediaKind : std::uint8_t { audio, video };

struct Frame {
  std::string stream_id;
  MediaKind kind = MediaKind::video;
  std::int64_t dts_ms = 0;  // decode timestamp, milliseconds, monotonic per stream
  std::int64_t pts_ms = 0;  // dts + composition time offset
  bool keyframe = false;
  bool sequence_header = false;  // AVC decoder configuration / AAC AudioSpecificConfig
  std::shared_ptr<const std::vector<std::uint8_t>> payload;
};

using FramePtr = std::shared_ptr<const Frame>;

}  // namespace souk::ingest
