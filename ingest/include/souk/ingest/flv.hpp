// FLV audio/video tag bodies (as RTMP carries them) to frames, stream metadata
// from onMetaData and the AAC AudioSpecificConfig, and timestamp repair.
#pragma once

#include "souk/ingest/amf0.hpp"
#include "souk/ingest/frame.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace souk::ingest {

struct TagInfo {
  MediaKind kind;
  std::uint8_t codec_id;
  bool keyframe;
  bool sequence_header;
  std::int32_t composition_time_ms;  // video only
  bool end_of_sequence;              // AVC end of sequence: carries no media
  std::size_t offset;                // where the codec payload starts
};

// Parses the FLV audio (type 8) or video (type 9) tag header at the start of a
// message payload. nullopt for an empty or truncated body. For codecs other than
// AVC/AAC the whole body after the first byte is the payload.
std::optional<TagInfo> parse_tag(MediaKind kind, std::span<const std::uint8_t> body);

struct VideoInfo {
  std::string codec;  // "h264", or "flv-codec-<id>"
  std::optional<int> width, height;
  std::optional<double> fps;
};

struct AudioInfo {
  std::string codec;  // "aac", "mp3", or "flv-codec-<id>"
  std::optional<int> sample_rate, channels;
};

struct MediaInfo {
  std::optional<VideoInfo> video;
  std::optional<AudioInfo> audio;
  std::optional<std::string> encoder;

  // Fills what onMetaData says (width, height, framerate, codec ids, encoder).
  void apply_metadata(const amf0::Value& metadata);
  // Fills what a frame says (codec; sample rate and channels from an AAC
  // AudioSpecificConfig).
  void apply_frame(const Frame& frame);
};

// Extends 32-bit RTMP timestamps to 64 bits across wraps and keeps each track's
// dts non-decreasing; a step backwards is clamped and counted.
class TimestampRepair {
 public:
  struct Result {
    std::int64_t dts;
    bool corrected;  // the input went backwards and was clamped
  };
  Result next(MediaKind kind, std::uint32_t timestamp);

 private:
  struct Track {
    bool started = false;
    std::uint32_t last_raw = 0;
    std::int64_t wraps = 0;
    std::int64_t last_dts = 0;
  };
  Track audio_, video_;
};

}  // namespace souk::ingest
