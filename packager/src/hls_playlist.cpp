// RFC 8216 media playlist.
#include "souk/packager/hls_playlist.hpp"

#include "souk/time.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace souk::packager {

HlsPlaylist::HlsPlaylist(double target_duration, std::size_t window)
    : window_(std::max<std::size_t>(window, 1)),
      target_(static_cast<int>(std::ceil(target_duration))) {}

std::vector<HlsSegment> HlsPlaylist::add(HlsSegment segment) {
  segment.sequence = next_sequence_++;
  // EXTINF rounded to the nearest integer must not exceed the target (4.3.3.1).
  target_ = std::max(target_, static_cast<int>(std::lround(segment.duration)));
  segments_.push_back(std::move(segment));
  std::vector<HlsSegment> gone;
  while (segments_.size() > window_) {
    if (segments_.front().discontinuity) ++discontinuity_sequence_;
    gone.push_back(std::move(segments_.front()));
    segments_.pop_front();
  }
  return gone;
}

std::string HlsPlaylist::render() const {
  std::string out = "#EXTM3U\n#EXT-X-VERSION:3\n";
  out += "#EXT-X-TARGETDURATION:" + std::to_string(target_) + "\n";
  const auto first = segments_.empty() ? next_sequence_ : segments_.front().sequence;
  out += "#EXT-X-MEDIA-SEQUENCE:" + std::to_string(first) + "\n";
  if (discontinuity_sequence_ > 0) {
    out += "#EXT-X-DISCONTINUITY-SEQUENCE:" + std::to_string(discontinuity_sequence_) + "\n";
  }
  for (const auto& s : segments_) {
    if (s.discontinuity) out += "#EXT-X-DISCONTINUITY\n";
    out += "#EXT-X-PROGRAM-DATE-TIME:" + format_iso8601(s.wall_clock_ms) + "\n";
    char extinf[64];
    std::snprintf(extinf, sizeof extinf, "#EXTINF:%.3f,\n", s.duration);
    out += extinf;
    out += s.uri + "\n";
  }
  if (ended_) out += "#EXT-X-ENDLIST\n";
  return out;
}

}  // namespace souk::packager
