// The media playlist of a live stream (RFC 8216): a sliding window of complete
// segments, rendered as text. Pure: no files, no clocks.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace souk::packager {

struct HlsSegment {
  std::uint64_t sequence = 0;
  std::string uri;              // file name, relative to the playlist
  double duration = 0;          // seconds
  std::int64_t wall_clock_ms = 0;  // when its first frame reached the server
  bool discontinuity = false;   // the first segment after a publisher reconnect
};

class HlsPlaylist {
 public:
  HlsPlaylist(double target_duration, std::size_t window);

  // Appends a complete segment; returns the segments that left the window
  // (their files can be deleted after a grace period).
  std::vector<HlsSegment> add(HlsSegment segment);
  void end() { ended_ = true; }

  std::uint64_t next_sequence() const { return next_sequence_; }
  const std::deque<HlsSegment>& segments() const { return segments_; }
  bool ended() const { return ended_; }
  int target_duration() const { return target_; }

  std::string render() const;

  // Rebuilds the state of a playlist this class rendered (after a restart), so
  // that the stream continues it. False (and unchanged) if `text` is not one.
  bool restore(const std::string& text);

 private:
  std::size_t window_;
  int target_;  // EXT-X-TARGETDURATION: never decreases
  std::deque<HlsSegment> segments_;
  std::uint64_t next_sequence_ = 0;
  std::uint64_t discontinuity_sequence_ = 0;  // discontinuities that slid out
  bool ended_ = false;
};

}  // namespace souk::packager
