// Live HLS as MPEG-TS: segments cut at keyframes (one libavformat muxer per
// publish, TsMuxer), the sliding playlist rewritten atomically after each, and the pause and retry when
// the disk is full. Its files' lives (grace time, spare, cache) are SegmentFiles'.
#pragma once

#include "souk/packager/av_util.hpp"
#include "souk/packager/hls_playlist.hpp"
#include "souk/packager/hls_writer.hpp"
#include "souk/packager/packager_options.hpp"
#include "souk/packager/segment_files.hpp"
#include "souk/packager/ts_muxer.hpp"

#include <filesystem>
#include <memory>
#include <string>

namespace souk::packager {

class HlsTsWriter final : public HlsWriter {
 public:
  // Creates the stream's HLS directory; after a restart, continues the playlist
  // found there (the next publisher starts after a discontinuity).
  HlsTsWriter(std::string stream_id, const PackagerOptions& options);

  void publish_started() override;
  void frame(const ingest::Frame& f, const MediaTracks& tracks,
             std::int64_t wall_clock_ms) override;
  void publish_stopped() override;
  void end() override;
  const HlsPlaylist& playlist() const override { return playlist_; }

 private:
  bool segment_open() const { return muxer_ && muxer_->segment_open(); }
  // The frame as MPEG-TS carries it (ts_packets.hpp); nullptr when it is malformed.
  static PacketPtr ts_packet(const ingest::Frame& f, const MediaTracks& tracks);
  void open_segment(const ingest::Frame& f, const MediaTracks& tracks, std::int64_t wall_clock_ms);
  // `closing_arrival_ms`: when the keyframe that ends the segment reached the
  // server (0 when the segment ends without one), for the availability latency.
  void close_segment(std::int64_t end_dts_ms, std::int64_t closing_arrival_ms = 0);
  // False when the playlist could not be written.
  bool write_playlist();
  // Media writes fail when the disk is full: the segment is dropped, the playlist
  // waits, and the next keyframe tries again (logged once per outage).
  void abandon_segment(const char* step, const std::string& error);
  void hls_failed(const char* step, const std::string& error);

  std::string id_;
  double segment_seconds_;
  std::filesystem::path dir_;
  SegmentFiles files_;
  HlsPlaylist playlist_;
  // The publish's transport stream, one segment file after another; made at
  // its first segment, dropped when the publisher leaves or a write fails.
  std::unique_ptr<TsMuxer> muxer_;
  std::string segment_uri_;
  std::int64_t segment_start_dts_ = 0;
  std::int64_t segment_wall_clock_ = 0;
  std::int64_t last_dts_ = 0;
  bool segment_has_keyframe_ = false;
  bool discontinuity_next_ = false;
  bool published_before_ = false;
  bool hls_failing_ = false;  // the last segment or playlist write failed
};

}  // namespace souk::packager
