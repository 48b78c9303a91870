// FLV tag parsing, metadata and timestamp repair.
#include "souk/ingest/flv.hpp"

#include <cmath>

namespace souk::ingest {

std::optional<TagInfo> parse_tag(MediaKind kind, std::span<const std::uint8_t> b) {
  if (b.empty()) return std::nullopt;
  TagInfo t{kind, 0, false, false, 0, false, 1};
  if (kind == MediaKind::video) {
    const int frame_type = b[0] >> 4;
    t.codec_id = b[0] & 0x0f;
    t.keyframe = frame_type == 1;
    if (t.codec_id == codec_avc) {
      if (b.size() < 5) return std::nullopt;
      t.sequence_header = b[1] == 0;
      t.end_of_sequence = b[1] == 2;
      // SI24 composition time (FLV spec E.4.3.1), sign-extended.
      std::int32_t ct = (std::int32_t{b[2]} << 16) | (std::int32_t{b[3]} << 8) | b[4];
      if (ct & 0x800000) ct -= 0x1000000;
      t.composition_time_ms = ct;
      t.offset = 5;
    }
  } else {
    t.codec_id = b[0] >> 4;
    t.keyframe = true;  // every audio frame can start decoding
    if (t.codec_id == codec_aac) {
      if (b.size() < 2) return std::nullopt;
      t.sequence_header = b[1] == 0;
      t.offset = 2;
    }
  }
  return t;
}

namespace {

std::string codec_name(MediaKind kind, std::uint32_t id) {
  if (kind == MediaKind::video && id == codec_avc) return "h264";
  if (kind == MediaKind::audio && id == codec_aac) return "aac";
  if (kind == MediaKind::audio && id == 2) return "mp3";
  return "flv-codec-" + std::to_string(id);
}

std::optional<double> number(const amf0::Value& m, const char* key) {
  const auto* v = m.get(key);
  if (!v) return std::nullopt;
  const auto* d = v->as_number();
  if (!d || !std::isfinite(*d) || *d < 0 || *d > 1e6) return std::nullopt;
  return *d;
}

}  // namespace

void MediaInfo::apply_metadata(const amf0::Value& m) {
  if (const auto id = number(m, "videocodecid")) {
    if (!video) video = VideoInfo{};
    video->codec = codec_name(MediaKind::video, static_cast<std::uint32_t>(*id));
  }
  if (const auto w = number(m, "width")) {
    if (!video) video = VideoInfo{"h264", {}, {}, {}};
    video->width = static_cast<int>(*w);
  }
  if (const auto h = number(m, "height")) {
    if (!video) video = VideoInfo{"h264", {}, {}, {}};
    video->height = static_cast<int>(*h);
  }
  if (const auto fps = number(m, "framerate")) {
    if (!video) video = VideoInfo{"h264", {}, {}, {}};
    video->fps = *fps;
  }
  if (const auto id = number(m, "audiocodecid")) {
    if (!audio) audio = AudioInfo{};
    audio->codec = codec_name(MediaKind::audio, static_cast<std::uint32_t>(*id));
  }
  if (const auto* enc = m.get("encoder")) {
    if (const auto* s = enc->as_string(); s && s->size() <= 256) encoder = *s;
  }
}

void MediaInfo::apply_frame(const Frame& f) {
  if (f.kind == MediaKind::video) {
    if (!video) video = VideoInfo{};
    video->codec = codec_name(MediaKind::video, f.codec_id);
    return;
  }
  if (!audio) audio = AudioInfo{};
  audio->codec = codec_name(MediaKind::audio, f.codec_id);
  if (f.codec_id == codec_aac && f.sequence_header) {
    // AudioSpecificConfig (ISO 14496-3 1.6.2.1): 5 bits object type, 4 bits
    // sampling frequency index, 4 bits channel configuration.
    const auto d = f.data();
    if (d.size() >= 2) {
      static constexpr int rates[] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                      22050, 16000, 12000, 11025, 8000,  7350};
      const int index = ((d[0] & 0x07) << 1) | (d[1] >> 7);
      const int channels = (d[1] >> 3) & 0x0f;
      if (index < 13) audio->sample_rate = rates[index];
      if (channels > 0) audio->channels = channels == 7 ? 8 : channels;
    }
  }
}

TimestampRepair::Result TimestampRepair::next(MediaKind kind, std::uint32_t ts) {
  Track& t = kind == MediaKind::audio ? audio_ : video_;
  if (t.started && ts < t.last_raw && t.last_raw - ts > 0x80000000u) {
    ++t.wraps;  // the 32-bit clock wrapped (about every 49.7 days)
  }
  t.last_raw = ts;
  std::int64_t dts = (t.wraps << 32) + ts + t.offset;
  Repair repair = Repair::none;
  if (t.started) {
    const std::int64_t step = dts - t.last_dts;
    if (step < -max_step_back_ms || step > max_jump_forward_ms) {
      // Until a track has shown its rhythm: about a 30 fps video frame, an AAC frame.
      const std::int64_t usual = t.interval > 0 ? t.interval : (kind == MediaKind::video ? 33 : 21);
      t.offset += t.last_dts + usual - dts;
      dts = t.last_dts + usual;
      repair = Repair::rebased;
    } else if (step < 0) {
      dts = t.last_dts;
      repair = Repair::clamped;
    } else if (step > 0 && step <= 1000) {
      t.interval = step;  // a frame's step, not a pause in one track
    }
  }
  t.started = true;
  t.last_dts = dts;
  return {dts, repair};
}

}  // namespace souk::ingest
