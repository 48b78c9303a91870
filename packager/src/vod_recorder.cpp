// VodRecorder: the live fMP4 recording, its clock across reconnects, and its end.
#include "souk/packager/vod_recorder.hpp"

#include "souk/log.hpp"
#include "souk/packager/recording_finalizer.hpp"

#include <algorithm>
#include <utility>

namespace souk::packager {
namespace fs = std::filesystem;
using ingest::Frame;
using ingest::MediaKind;

std::int64_t RecordingClock::offset_for(const Frame& f) {
  if (resync_) {
    // A new publisher starts its clock again: continue the recording's clock.
    // It starts one frame after the last one, not at the same instant.
    offset_ms_ = last_dts_ + frame_ms_ - f.dts_ms;
    resync_ = false;
  }
  return offset_ms_;
}

void RecordingClock::written(const Frame& f, std::int64_t dts) {
  if (f.kind == MediaKind::video && dts > last_video_dts_ && last_video_dts_ >= 0 &&
      dts - last_video_dts_ <= 1000) {
    frame_ms_ = dts - last_video_dts_;
  }
  if (f.kind == MediaKind::video) last_video_dts_ = std::max(last_video_dts_, dts);
  last_dts_ = std::max(last_dts_, dts);
}

VodRecorder::VodRecorder(std::string stream_id, fs::path fragmented, fs::path vod)
    : id_(std::move(stream_id)), fragmented_(std::move(fragmented)), vod_(std::move(vod)) {
  fs::create_directories(fragmented_.parent_path());
}

VodRecorder::~VodRecorder() = default;

void VodRecorder::start(const MediaTracks& tracks) {
  AVDictionary* opts = nullptr;
  // Fragment at each keyframe and flush each packet, so a crash loses at most
  // the fragment being written.
  av_dict_set(&opts, "movflags", "frag_keyframe+empty_moov+default_base_moof", 0);
  av_dict_set(&opts, "flush_packets", "1", 0);
  try {
    recording_ = std::make_unique<OutputFile>(fragmented_.string(), "mp4", tracks.video.get(),
                                              tracks.audio.get(), &opts);
    whole_bytes_ = static_cast<std::uintmax_t>(recording_->bytes_written());
  } catch (const AvError& e) {
    log::error("packager: cannot start the recording", {{"stream_id", id_}, {"error", e.what()}});
  }
  av_dict_free(&opts);
}

void VodRecorder::publish_started() {
  if (recording_) clock_.resync();
}

void VodRecorder::frame(const Frame& f) {
  if (!recording_) return;
  const int index =
      f.kind == MediaKind::video ? recording_->video_index() : recording_->audio_index();
  if (index < 0) return;
  const std::int64_t offset_ms = clock_.offset_for(f);
  const std::int64_t dts = f.dts_ms + offset_ms;
  if (dts < 0) return;
  try {
    auto pkt = packet_of(f, offset_ms);
    recording_->write(index, pkt.get());
    clock_.written(f, dts);
    whole_bytes_ = static_cast<std::uintmax_t>(recording_->bytes_written());
  } catch (const AvError& e) {
    // The muxer's output is unusable after a failed write. Every fragment
    // flushed before it is whole: cut the file back to them (which also gives
    // back the space), and the VOD is made from those.
    recording_.reset();
    std::error_code ec;
    fs::resize_file(fragmented_, whole_bytes_, ec);
    log::error("packager: recording stopped, the VOD keeps what was written before",
               {{"stream_id", id_}, {"error", e.what()}});
  }
}

std::optional<fs::path> VodRecorder::end() {
  if (recording_) {
    try {
      recording_->finish();
    } catch (const AvError& e) {
      log::warn("packager: recording close failed", {{"stream_id", id_}, {"error", e.what()}});
    }
    recording_.reset();
  }
  std::error_code ec;
  if (!fs::exists(fragmented_, ec)) return std::nullopt;
  try {
    if (finalize_recording(fragmented_, vod_) == Finalized::nothing_recorded) {
      // A part from before a restart, if any, is the VOD as it stands.
      const bool earlier = fs::exists(vod_, ec);
      log::warn("packager: the recording holds no media, nothing added to the VOD",
                {{"stream_id", id_}, {"earlier_part", earlier}});
      if (!earlier) return std::nullopt;
    }
  } catch (const std::exception& e) {
    log::error("packager: recording finalize failed", {{"stream_id", id_}, {"error", e.what()}});
    return std::nullopt;
  }
  return vod_;
}

}  // namespace souk::packager
