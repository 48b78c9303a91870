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

bool HlsPlaylist::restore(const std::string& text) {
  std::deque<HlsSegment> segments;
  std::uint64_t sequence = 0;
  std::uint64_t discontinuities = 0;
  int target = target_;
  bool ended = false;
  HlsSegment next;
  std::size_t pos = 0;
  try {
    while (pos < text.size()) {
      const auto eol = text.find('\n', pos);
      const std::string line = text.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
      pos = eol == std::string::npos ? text.size() : eol + 1;
      if (line.rfind("#EXT-X-TARGETDURATION:", 0) == 0) {
        target = std::max(target, std::stoi(line.substr(22)));
      } else if (line.rfind("#EXT-X-MEDIA-SEQUENCE:", 0) == 0) {
        sequence = std::stoull(line.substr(22));
      } else if (line.rfind("#EXT-X-DISCONTINUITY-SEQUENCE:", 0) == 0) {
        discontinuities = std::stoull(line.substr(30));
      } else if (line == "#EXT-X-DISCONTINUITY") {
        next.discontinuity = true;
      } else if (line.rfind("#EXT-X-PROGRAM-DATE-TIME:", 0) == 0) {
        next.wall_clock_ms = parse_iso8601(line.substr(25)).value_or(0);
      } else if (line.rfind("#EXTINF:", 0) == 0) {
        next.duration = std::stod(line.substr(8));
      } else if (line == "#EXT-X-ENDLIST") {
        ended = true;
      } else if (!line.empty() && line[0] != '#') {
        next.uri = line;
        next.sequence = sequence + segments.size();
        segments.push_back(next);
        next = {};
      }
    }
  } catch (const std::exception&) {
    return false;  // a number that does not parse: not ours
  }
  if (text.rfind("#EXTM3U", 0) != 0) return false;
  segments_ = std::move(segments);
  next_sequence_ = sequence + segments_.size();
  discontinuity_sequence_ = discontinuities;
  target_ = target;
  ended_ = ended;
  return true;
}

}  // namespace souk::packager
