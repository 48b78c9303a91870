// One stream's packaging: learns the codecs from the sequence headers, holds
// frames until they are known, then feeds each frame to the stream's live HLS
// writer (HlsWriter) and, when asked, its recorder (VodRecorder). Runs on its
// own strand of the media pool: it blocks on disk and muxing, never on a
// network thread.
#pragma once

#include "souk/ingest/frame.hpp"
#include "souk/packager/hls_playlist.hpp"
#include "souk/packager/hls_writer.hpp"
#include "souk/packager/media_tracks.hpp"
#include "souk/packager/packager_options.hpp"
#include "souk/packager/vod_recorder.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace souk::packager {

class StreamPackager {
 public:
  StreamPackager(std::string stream_id, const PackagerOptions& options, bool record);
  ~StreamPackager();

  void publish_started();
  void frame(const ingest::Frame& f, std::int64_t wall_clock_ms);
  void publish_stopped();
  // Closes the last segment, writes ENDLIST and finalizes the recording; returns
  // the VOD path if one was written.
  std::optional<std::filesystem::path> end();

  bool recording() const { return recorder_.has_value(); }
  const HlsPlaylist& playlist() const { return hls_->playlist(); }

 private:
  struct Pending {
    ingest::Frame frame;
    std::int64_t wall_clock_ms;
  };

  std::string id_;
  MediaTracks tracks_;
  bool outputs_ready_ = false;
  std::vector<Pending> pending_;  // frames that arrived before the codecs were known
  std::unique_ptr<HlsWriter> hls_;
  std::optional<VodRecorder> recorder_;  // when the stream is recorded
};

}  // namespace souk::packager
