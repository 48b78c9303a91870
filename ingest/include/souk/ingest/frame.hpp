// One audio or video access unit as ingest hands it on. Frames are immutable and
// shared (FramePtr): every consumer reads the same payload, never a copy.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace souk::ingest {

enum class MediaKind : std::uint8_t { audio, video };

// FLV codec ids (FLV spec, E.4.2/E.4.3).
inline constexpr std::uint8_t codec_avc = 7;
inline constexpr std::uint8_t codec_aac = 10;

struct Frame {
  std::string stream_id;
  MediaKind kind = MediaKind::video;
  std::uint8_t codec_id = 0;
  std::int64_t dts_ms = 0;  // decode timestamp: 64-bit, unwrapped, monotonic per track
  std::int64_t pts_ms = 0;  // dts + composition time offset
  bool keyframe = false;
  bool sequence_header = false;  // AVCDecoderConfigurationRecord / AudioSpecificConfig
  // The FLV tag body as received; the codec payload starts at `offset`
  // (after the FLV audio/video headers).
  std::shared_ptr<const std::vector<std::uint8_t>> buffer;
  std::size_t offset = 0;

  std::span<const std::uint8_t> data() const {
    return std::span<const std::uint8_t>(*buffer).subspan(offset);
  }
};

using FramePtr = std::shared_ptr<const Frame>;

}  // namespace souk::ingest
