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
// timeline usable when the publisher's clock misbehaves:
//  - a small step back (jitter, up to max_step_back) is clamped to the previous dts;
//  - a larger step back, or a jump forward of over max_jump_forward (an encoder
//    that restarted its clock, a phone whose clock was set) rebases the track: the
//    frame follows the previous one by the track's usual frame interval, and later
//    frames keep that offset, so segments and the recording never hold a gap of
//    hours or a run of frames stuck at one time.
// Each track is repaired on its own; both jump together in practice, and each then
// continues one frame after its previous frame, which keeps them in sync.
class TimestampRepair {
 public:
  static constexpr std::int64_t max_step_back_ms = 1000;
  static constexpr std::int64_t max_jump_forward_ms = 10'000;

  enum class Repair { none, clamped, rebased };
  struct Result {
    std::int64_t dts;
    Repair repair = Repair::none;
  };
  Result next(MediaKind kind, std::uint32_t timestamp);

 private:
  struct Track {
    bool started = false;
    std::uint32_t last_raw = 0;
    std::int64_t wraps = 0;
    std::int64_t offset = 0;    // added to the extended timestamp since the last rebase
    std::int64_t last_dts = 0;
    std::int64_t interval = 0;  // the last ordinary step forward, ms
  };
  Track audio_, video_;
};

}  // namespace souk::ingest
