// A stream's recording while it is live: fragmented MP4 (a crash loses at most
// the fragment being written), on one clock across the publishers that come and
// go; at the end, the VOD (recording_finalizer.hpp).
#pragma once

#include "souk/ingest/frame.hpp"
#include "souk/packager/av_util.hpp"
#include "souk/packager/media_tracks.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace souk::packager {

// The recording's timeline. Each publisher's clock starts again; the recording's
// runs on: after a reconnect, the first frame lands one video frame interval
// after the last frame recorded.
class RecordingClock {
 public:
  // A new publisher: the next frame sets the offset.
  void resync() { resync_ = true; }
  // What to add to the frame's timestamps (fixed at the first frame after resync()).
  std::int64_t offset_for(const ingest::Frame& f);
  // A frame written at `dts` on the recording's timeline.
  void written(const ingest::Frame& f, std::int64_t dts);

  std::int64_t frame_ms() const { return frame_ms_; }

 private:
  std::int64_t offset_ms_ = 0;  // keeps the recording's clock running across reconnects
  std::int64_t last_dts_ = -1;
  std::int64_t last_video_dts_ = -1;
  std::int64_t frame_ms_ = 33;  // the video's frame interval (30 fps until seen)
  bool resync_ = false;
};

class VodRecorder {
 public:
  // `fragmented`: the recording's file while live; `vod`: the finished VOD.
  // Creates their directory.
  VodRecorder(std::string stream_id, std::filesystem::path fragmented, std::filesystem::path vod);
  ~VodRecorder();

  // Opens the recording with the stream's codecs (once both are known, or the
  // wait for the second is over). A failure is logged: the stream goes on unrecorded.
  void start(const MediaTracks& tracks);
  // A publisher (re)starts: the recording's clock continues across it.
  void publish_started();
  // A media frame (no sequence header), after start().
  void frame(const ingest::Frame& f);
  // Closes the recording and makes the VOD of it; the VOD's path, or nullopt
  // when there is no VOD: nothing was recorded (in this run or before a
  // restart) or finalizing failed (logged). A recording without media leaves
  // the VOD of an earlier part as it was, and its path is returned.
  std::optional<std::filesystem::path> end();

 private:
  std::string id_;
  std::filesystem::path fragmented_, vod_;
  std::unique_ptr<OutputFile> recording_;
  RecordingClock clock_;
  std::uintmax_t whole_bytes_ = 0;  // the file's size after the last successful write
};

}  // namespace souk::packager
