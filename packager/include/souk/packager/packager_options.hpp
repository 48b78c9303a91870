// What every stream's packager is told (segment length, window, cache, lanes),
// and where a stream's media lives under the data directory.
#pragma once

#include "souk/file_cache.hpp"

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>

namespace souk::packager {

struct PackagerOptions {
  std::filesystem::path data_dir;
  double segment_seconds = 2.0;  // target duration; cuts happen at the next keyframe after it
  std::size_t playlist_window = 6;
  // Hot HLS files in memory (optional): each playlist and finished segment goes
  // in as it is written, each deleted segment comes out.
  FileCache* cache = nullptr;
  // Runs blocking work that the stream need not wait for (reading a finished
  // segment into the cache) elsewhere, e.g. on the blocking-work pool; when
  // empty, it runs in place.
  std::function<void(std::function<void()>)> background;
  // Frames reach their lane (Packager) in batches, every batch_interval, one wake
  // of the media pool for all lanes with news: a hand-off per frame made thread
  // wake-ups the largest cost of ingest. A frame that may close a segment (a
  // video keyframe; any audio frame of a stream without video) is handed over at
  // once, with what waits before it, so batching delays no segment.
  std::chrono::milliseconds batch_interval{100};
  // A lane whose oldest waiting frame has waited this long is behind the live
  // edge (the machine or its disk cannot keep up): it drops frames until it has
  // caught up to half of this and a restart point comes (Packager::on_frame).
  std::chrono::milliseconds max_lag{3000};
};

// Paths of a stream's media: its HLS directory, its recording while live
// (fragmented MP4) and its VOD (the final MP4).
std::filesystem::path hls_dir(const PackagerOptions& o, const std::string& stream_id);
std::filesystem::path recording_path(const PackagerOptions& o, const std::string& stream_id);
std::filesystem::path vod_path(const PackagerOptions& o, const std::string& stream_id);

}  // namespace souk::packager
