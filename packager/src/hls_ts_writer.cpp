// HlsTsWriter: MPEG-TS segments and the sliding playlist of one stream.
#include "souk/packager/hls_ts_writer.hpp"

#include "souk/log.hpp"
#include "souk/packager/atomic_file.hpp"
#include "souk/packager/packager_metrics.hpp"
#include "souk/time.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

namespace souk::packager {
namespace fs = std::filesystem;
using ingest::Frame;
using ingest::MediaKind;

HlsTsWriter::HlsTsWriter(std::string stream_id, const PackagerOptions& options)
    : id_(std::move(stream_id)),
      segment_seconds_(options.segment_seconds),
      dir_(hls_dir(options, id_)),
      files_(dir_, options),
      playlist_(options.segment_seconds, options.playlist_window) {
  fs::create_directories(dir_);
  // After a restart the stream continues the playlist it had (the next
  // publisher starts after a discontinuity).
  std::ifstream in(dir_ / "index.m3u8", std::ios::binary);
  if (in) {
    std::ostringstream text;
    text << in.rdbuf();
    if (playlist_.restore(text.str()) && !playlist_.segments().empty()) {
      published_before_ = true;
      files_.adopt_retired(playlist_.segments().front().uri);
      log::info("packager: continuing the playlist",
                {{"stream_id", id_},
                 {"next_sequence", static_cast<std::uint64_t>(playlist_.next_sequence())}});
    }
  }
}

void HlsTsWriter::publish_started() {
  // A publisher after the first continues the same playlist, marked as a
  // discontinuity (new timestamps, maybe new encoder settings).
  if (published_before_) discontinuity_next_ = true;
  published_before_ = true;
}

void HlsTsWriter::frame(const Frame& f, const MediaTracks& tracks, std::int64_t wall_clock_ms) {
  const bool has_video = tracks.video != nullptr;
  const bool cut_point = has_video ? (f.kind == MediaKind::video && f.keyframe) : true;
  if (segment_open() && cut_point &&
      static_cast<double>(f.dts_ms - segment_start_dts_) >= segment_seconds_ * 1000) {
    close_segment(f.dts_ms, wall_clock_ms);
  }
  if (!segment_open()) {
    if (hls_failing_ && !cut_point) return;  // after a failed write, try again at a keyframe
    open_segment(f, tracks, wall_clock_ms);
  }
  if (!segment_open()) return;
  const int index = f.kind == MediaKind::video ? muxer_->video_index() : muxer_->audio_index();
  if (index < 0) return;
  // Video before the segment's first keyframe cannot be decoded: drop it. Audio
  // is kept, so audio that precedes the first keyframe is not lost.
  if (f.kind == MediaKind::video) {
    if (!f.keyframe && !segment_has_keyframe_) return;
    segment_has_keyframe_ = true;
  }
  try {
    auto pkt = ts_packet(f, tracks);
    if (!pkt) return;  // NAL lengths that run past the frame: nothing a player could decode
    muxer_->write(index, pkt.get());
    last_dts_ = std::max(last_dts_, f.dts_ms);
  } catch (const AvError& e) {
    abandon_segment("write", e.what());
  }
}

PacketPtr HlsTsWriter::ts_packet(const Frame& f, const MediaTracks& tracks) {
  PacketPtr pkt;
  if (f.kind == MediaKind::video) {
    if (!tracks.avc) return nullptr;  // h264_parameters accepted no record it rejects
    pkt = annexb_packet(f.data(), *tracks.avc);
  } else {
    pkt = tracks.adts ? tracks.adts->packet(f.data()) : packet_of(f);  // the muxer adds ADTS itself
  }
  if (!pkt) return nullptr;
  pkt->dts = f.dts_ms;
  pkt->pts = std::max(f.pts_ms, f.dts_ms);
  if (f.keyframe) pkt->flags |= AV_PKT_FLAG_KEY;
  return pkt;
}

void HlsTsWriter::open_segment(const Frame& f, const MediaTracks& tracks,
                               std::int64_t wall_clock_ms) {
  segment_uri_ = segment_name(playlist_.next_sequence());
  // The cache may hold a file of this name (one abandoned, then read by a client
  // that guessed it): it goes before the file is written anew.
  files_.uncache(dir_ / segment_uri_);
  files_.take_spare(dir_ / segment_uri_);
  try {
    // A track that appeared since the muxer was made (audio whose header came
    // late) needs a muxer that has it: the counters restart with it.
    if (muxer_ && ((muxer_->video_index() >= 0) != (tracks.video != nullptr) ||
                   (muxer_->audio_index() >= 0) != (tracks.audio != nullptr))) {
      muxer_.reset();
    }
    if (!muxer_) muxer_ = std::make_unique<TsMuxer>(tracks.video.get(), tracks.audio.get());
    muxer_->open_segment(dir_ / segment_uri_);
  } catch (const AvError& e) {
    abandon_segment("open", e.what());
    return;
  }
  segment_start_dts_ = f.dts_ms;
  last_dts_ = f.dts_ms;
  segment_wall_clock_ = wall_clock_ms;
  segment_has_keyframe_ = false;
}

void HlsTsWriter::close_segment(std::int64_t end_dts_ms, std::int64_t closing_arrival_ms) {
  if (!segment_open()) return;
  try {
    muxer_->close_segment();
  } catch (const AvError& e) {
    return abandon_segment("close", e.what());
  }
  files_.cache_file(dir_ / segment_uri_);
  HlsSegment s;
  s.uri = segment_uri_;
  s.duration =
      static_cast<double>(std::max<std::int64_t>(end_dts_ms - segment_start_dts_, 1)) / 1000.0;
  s.wall_clock_ms = segment_wall_clock_;
  s.discontinuity = discontinuity_next_;
  discontinuity_next_ = false;
  files_.retire(playlist_.add(std::move(s)));
  const bool listed = write_playlist();
  auto& m = packager_metrics();
  m.segments_written.inc();
  if (listed && closing_arrival_ms > 0) {
    // Wall-clock milliseconds at both ends (the frame's arrival is stamped so).
    m.segment_availability.observe(
        static_cast<double>(std::max<std::int64_t>(now_millis() - closing_arrival_ms, 0)) / 1000.0);
  }
}

bool HlsTsWriter::write_playlist() {
  const auto path = dir_ / "index.m3u8";
  const auto text = std::make_shared<const std::string>(playlist_.render());
  try {
    // The cached copy goes in just before the rename, with the modification time
    // the file keeps across it (SegmentFiles::cache_text).
    write_file_atomically(path, *text,
                          [&](const fs::path& written) { files_.cache_text(path, text, written); });
  } catch (const std::exception& e) {
    // Players keep the previous playlist (from disk: a copy cached before a failed
    // rename is not on disk); the next segment's write tries again.
    files_.uncache(path);
    hls_failed("playlist", e.what());
    return false;
  }
  if (hls_failing_) {
    hls_failing_ = false;
    log::info("packager: HLS resumed", {{"stream_id", id_}});
  }
  return true;
}

void HlsTsWriter::abandon_segment(const char* step, const std::string& error) {
  // A segment that could not be written whole is never listed: its file goes
  // (which also gives back the space), and the playlist marks the gap. The
  // muxer may hold bytes of it: the next segment starts a new one.
  muxer_.reset();
  std::error_code ec;
  fs::remove(dir_ / segment_uri_, ec);
  files_.uncache(dir_ / segment_uri_);  // a reader may have copied part of it
  discontinuity_next_ = true;
  hls_failed(step, error);
}

void HlsTsWriter::hls_failed(const char* step, const std::string& error) {
  if (hls_failing_) return;  // said once per outage, not once per frame
  hls_failing_ = true;
  log::error("packager: HLS paused, media cannot be written; retrying at each keyframe",
             {{"stream_id", id_}, {"step", step}, {"error", error}});
}

void HlsTsWriter::publish_stopped() {
  close_segment(last_dts_ + 1);
  muxer_.reset();  // the next publisher's tracks may differ
}

void HlsTsWriter::end() {
  close_segment(last_dts_ + 1);
  muxer_.reset();
  playlist_.end();
  if (published_before_) write_playlist();
  files_.drop_spare();
}

}  // namespace souk::packager
