// The seam between a stream's coordinator (StreamPackager) and the writer that
// makes its live HLS: MPEG-TS segments today (HlsTsWriter); a low-latency fMP4
// writer is the second implementation to come.
#pragma once

#include "souk/ingest/frame.hpp"
#include "souk/packager/hls_playlist.hpp"
#include "souk/packager/media_tracks.hpp"

#include <cstdint>

namespace souk::packager {

class HlsWriter {
 public:
  virtual ~HlsWriter() = default;

  // A publisher starts (every one after the first marks a discontinuity).
  virtual void publish_started() = 0;
  // A media frame (H.264 or AAC, no sequence header), once `tracks` knows the
  // stream's codecs; `wall_clock_ms`: when it reached the server (now_millis()).
  virtual void frame(const ingest::Frame& f, const MediaTracks& tracks,
                     std::int64_t wall_clock_ms) = 0;
  // The publisher left: the segment in progress is closed and listed.
  virtual void publish_stopped() = 0;
  // The stream ended: the last segment is listed and the playlist ends (ENDLIST).
  virtual void end() = 0;

  // The media playlist as last written.
  virtual const HlsPlaylist& playlist() const = 0;
};

}  // namespace souk::packager
