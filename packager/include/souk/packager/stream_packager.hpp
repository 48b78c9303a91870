// One stream's packaging: live HLS (MPEG-TS segments cut at keyframes, a sliding
// playlist) and, when asked, a fragmented-MP4 recording. Runs on its own strand
// of the media pool: it blocks on disk and muxing, never on a network thread.
#pragma once

#include "souk/file_cache.hpp"
#include "souk/ingest/frame.hpp"
#include "souk/packager/av_util.hpp"
#include "souk/packager/hls_playlist.hpp"
#include "souk/packager/ts_packets.hpp"

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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

// Paths of a stream's media.
std::filesystem::path hls_dir(const PackagerOptions& o, const std::string& stream_id);
std::filesystem::path recording_path(const PackagerOptions& o, const std::string& stream_id);  // fMP4 while live
std::filesystem::path vod_path(const PackagerOptions& o, const std::string& stream_id);        // final MP4

// Writes a file under a temporary name (`path` + ".tmp"), then exchanges the two
// names, so readers see the old contents or the new, never half; the old version
// stays under the temporary name, to be overwritten by the next. `before_rename`,
// when given, is called with the written temporary file just before it takes
// `path`'s place.
void write_file_atomically(
    const std::filesystem::path& path, const std::string& text,
    const std::function<void(const std::filesystem::path& written)>& before_rename = {});

// Turns a fragmented recording into a regular MP4 with the index first
// (faststart), written under a temporary name and renamed. Throws AvError.
void finalize_recording(const std::filesystem::path& fragmented, const std::filesystem::path& out);

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

  bool recording() const { return record_; }
  const HlsPlaylist& playlist() const { return playlist_; }

 private:
  struct Pending {
    ingest::Frame frame;
    std::int64_t wall_clock_ms;
  };

  void set_up_outputs();
  void write_hls(const ingest::Frame& f, std::int64_t wall_clock_ms);
  // The frame as MPEG-TS carries it (ts_packets.hpp); nullptr when it is malformed.
  PacketPtr hls_packet(const ingest::Frame& f) const;
  void open_segment(const ingest::Frame& f, std::int64_t wall_clock_ms);
  // `closing_arrival_ms`: when the keyframe that ends the segment reached the
  // server (0 when the segment ends without one), for the availability latency.
  void close_segment(std::int64_t end_dts_ms, std::int64_t closing_arrival_ms = 0);
  // False when the playlist could not be written.
  bool write_playlist();
  // Media writes fail when the disk is full: the segment is dropped, the playlist
  // waits, and the next keyframe tries again (logged once per outage).
  void abandon_segment(const char* step, const std::string& error);
  void hls_failed(const char* step, const std::string& error);
  void write_recording(const ingest::Frame& f);
  void remove_old_segments(const std::vector<HlsSegment>& gone);
  // After a restart: the segment files older than the restored playlist, as retired.
  void adopt_retired_files();
  // A segment file past its grace time: kept as the spare when nothing can still
  // be reading it and there is none yet, else deleted.
  void retire_file(const std::filesystem::path& path);
  // Renames the spare, if there is one, to `path`, the next segment's file.
  void take_spare(const std::filesystem::path& path);
  void drop_spare();
  std::filesystem::path spare_path() const;
  // Puts a finished segment into the cache (read back from disk, in the
  // background), replacing what a reader may have copied while it was written.
  void cache_file(const std::filesystem::path& path);
  void uncache(const std::filesystem::path& path);

  std::string id_;
  PackagerOptions options_;
  bool record_;
  std::filesystem::path dir_;

  CodecParametersPtr video_par_, audio_par_;
  std::optional<AvcStream> avc_;    // the video's, for Annex B
  std::optional<AdtsStream> adts_;  // the audio's ADTS header, when ADTS can carry it
  bool outputs_ready_ = false;
  std::vector<Pending> pending_;  // frames that arrived before the codecs were known

  // HLS
  HlsPlaylist playlist_;
  std::unique_ptr<OutputFile> segment_;
  std::string segment_uri_;
  std::int64_t segment_start_dts_ = 0;
  std::int64_t segment_wall_clock_ = 0;
  std::int64_t last_dts_ = 0;
  bool segment_has_keyframe_ = false;
  bool discontinuity_next_ = false;
  bool published_before_ = false;
  bool hls_failing_ = false;  // the last segment or playlist write failed
  std::vector<std::string> retired_;  // segment files out of the window, deleted later
  // A retired segment's file, renamed to spare_path(), that the next segment
  // takes over: a rename and a truncation instead of a deletion and a creation,
  // which on ext4 without a journal scans past every inode freed in the last
  // half minute (see write_file_atomically).
  bool has_spare_ = false;

  // VOD
  std::unique_ptr<OutputFile> recording_;
  std::int64_t record_offset_ms_ = 0;   // keeps the recording's clock running across reconnects
  std::int64_t record_last_dts_ = -1;
  std::int64_t record_last_video_dts_ = -1;
  std::uintmax_t recording_whole_bytes_ = 0;  // the file's size after the last successful write
  std::int64_t record_frame_ms_ = 33;  // the video's frame interval (30 fps until seen)
  bool record_resync_ = false;
};

}  // namespace souk::packager
