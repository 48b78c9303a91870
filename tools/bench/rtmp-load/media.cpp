// Shared media for rtmp-load (see media.hpp).
#include "media.hpp"

#include <algorithm>
#include <cmath>
#include <string_view>

namespace rtmp_load {
namespace {

using rtmp_publish::flv_tag_audio;
using rtmp_publish::flv_tag_script_data;
using rtmp_publish::flv_tag_video;

// VIDEODATA: FrameType (4 bits, 1 = keyframe) and CodecID (4 bits, 7 = AVC),
// then for AVC the AVCPacketType (0 = sequence header). FLV spec v10.1, E.4.3.
bool is_video_sequence_header(std::string_view body) {
  return body.size() >= 2 && (static_cast<unsigned char>(body[0]) & 0x0f) == 7 && body[1] == 0;
}

// AVC end of sequence (AVCPacketType 2): what ffmpeg's FLV muxer writes last.
bool is_video_end_of_sequence(std::string_view body) {
  return body.size() >= 2 && (static_cast<unsigned char>(body[0]) & 0x0f) == 7 && body[1] == 2;
}

// A keyframe with a picture: for AVC, a NALU packet (AVCPacketType 1).
bool is_keyframe(std::string_view body) {
  if (body.empty() || (static_cast<unsigned char>(body[0]) >> 4) != 1) return false;
  if ((static_cast<unsigned char>(body[0]) & 0x0f) == 7) return body.size() >= 2 && body[1] == 1;
  return true;
}

// AUDIODATA: SoundFormat (4 bits, 10 = AAC), then AACPacketType (0 = sequence
// header). FLV spec v10.1, E.4.2.
bool is_audio_sequence_header(std::string_view body) {
  return body.size() >= 2 && (static_cast<unsigned char>(body[0]) >> 4) == 10 && body[1] == 0;
}

// One pass of a track: its last timestamp plus its mean step between frames.
std::uint32_t track_length(const std::vector<std::uint32_t>& times) {
  if (times.empty()) return 0;
  if (times.size() == 1) return times.front() + 40;
  const double step =
      static_cast<double>(times.back() - times.front()) / static_cast<double>(times.size() - 1);
  return static_cast<std::uint32_t>(std::lround(static_cast<double>(times.back()) + step));
}

}  // namespace

bool build_media(const std::vector<rtmp_publish::FlvTag>& tags, Media& media, std::string& error) {
  media = Media{};
  if (tags.empty()) {
    error = "the FLV file has no audio, video or script-data tags";
    return false;
  }
  std::uint32_t first = tags.front().timestamp;
  for (const auto& t : tags) first = std::min(first, t.timestamp);

  std::vector<std::uint32_t> video_times;
  std::vector<std::uint32_t> audio_times;
  for (const auto& t : tags) {
    if (t.type == flv_tag_video && !is_video_sequence_header(t.body) &&
        !is_video_end_of_sequence(t.body)) {
      video_times.push_back(t.timestamp - first);
    } else if (t.type == flv_tag_audio && !is_audio_sequence_header(t.body)) {
      audio_times.push_back(t.timestamp - first);
    }
  }
  media.pass_ms = !video_times.empty() ? track_length(video_times) : track_length(audio_times);
  if (media.pass_ms == 0) {
    error = "the FLV file has no audio or video frames";
    return false;
  }

  static constexpr std::string_view set_data_frame("\x02\x00\x0d@setDataFrame", 16);
  for (const auto& t : tags) {
    MediaTag m;
    m.type = t.type;
    m.timestamp = t.timestamp - first;
    std::string body;
    if (t.type == flv_tag_script_data) {
      // An encoder sends its metadata as @setDataFrame("onMetaData", {...}).
      if (t.body.substr(0, set_data_frame.size()) != set_data_frame) body = set_data_frame;
      m.first_pass_only = true;
    } else if (t.type == flv_tag_video) {
      m.keyframe = is_keyframe(t.body);
      m.first_pass_only = is_video_sequence_header(t.body);
    } else {
      m.first_pass_only = is_audio_sequence_header(t.body);
    }
    // Past one pass (an audio encoder's tail), or the end-of-sequence marker that
    // would tell the server the stream ends at every loop: left out.
    if ((!m.first_pass_only && m.timestamp >= media.pass_ms) ||
        (t.type == flv_tag_video && is_video_end_of_sequence(t.body))) {
      ++media.trimmed_tags;
      continue;
    }
    body.append(t.body);
    if (body.size() > 0xFFFFFF) {
      error = "a tag of " + std::to_string(body.size()) + " bytes does not fit an RTMP message";
      return false;
    }
    m.size = static_cast<std::uint32_t>(body.size());
    m.body = std::move(body);
    if (!m.first_pass_only) {
      media.bytes_per_pass += m.size;
      if (m.keyframe) ++media.keyframes_per_pass;
    }
    media.tags.push_back(std::move(m));
  }
  return true;
}

}  // namespace rtmp_load
