// StreamPackager: the codecs, the wait for them, and the hand-off to the writers.
#include "souk/packager/stream_packager.hpp"

#include "souk/log.hpp"
#include "souk/packager/hls_ts_writer.hpp"

#include <utility>

namespace souk::packager {
using ingest::Frame;
using ingest::MediaKind;

namespace {

// Waiting longer than this for the second codec's sequence header means the
// stream has only one kind of media.
constexpr std::int64_t codec_wait_ms = 1000;

}  // namespace

StreamPackager::StreamPackager(std::string stream_id, const PackagerOptions& options, bool record)
    : id_(std::move(stream_id)), hls_(std::make_unique<HlsTsWriter>(id_, options)) {
  if (record) recorder_.emplace(id_, recording_path(options, id_), vod_path(options, id_));
}

StreamPackager::~StreamPackager() = default;

void StreamPackager::publish_started() {
  hls_->publish_started();
  if (recorder_) recorder_->publish_started();
}

void StreamPackager::frame(const Frame& f, std::int64_t wall_clock_ms) {
  if (f.sequence_header) {
    if (!tracks_.add_sequence_header(f)) {
      log::warn("packager: unusable sequence header",
                {{"stream_id", id_}, {"track", f.kind == MediaKind::video ? "video" : "audio"}});
    }
    return;
  }
  if ((f.kind == MediaKind::video && f.codec_id != ingest::codec_avc) ||
      (f.kind == MediaKind::audio && f.codec_id != ingest::codec_aac)) {
    return;  // only H.264 and AAC are packaged
  }
  if (!outputs_ready_) {
    pending_.push_back({f, wall_clock_ms});
    const bool both = tracks_.video && tracks_.audio;
    const bool waited =
        pending_.back().frame.dts_ms - pending_.front().frame.dts_ms >= codec_wait_ms;
    if (!tracks_.video && !tracks_.audio) {
      // No usable sequence header (yet): keep only the last moments, not all.
      while (pending_.size() > 1 &&
             pending_.back().frame.dts_ms - pending_.front().frame.dts_ms > codec_wait_ms) {
        pending_.erase(pending_.begin());
      }
      return;
    }
    if (!both && !waited) return;
    // The recording's tracks are fixed now; the HLS writer opens each segment
    // with the tracks as they are then.
    outputs_ready_ = true;
    if (recorder_) recorder_->start(tracks_);
    auto pending = std::move(pending_);
    pending_.clear();
    for (const auto& p : pending) frame(p.frame, p.wall_clock_ms);
    return;
  }
  hls_->frame(f, tracks_, wall_clock_ms);
  if (recorder_) recorder_->frame(f);
}

void StreamPackager::publish_stopped() { hls_->publish_stopped(); }

std::optional<std::filesystem::path> StreamPackager::end() {
  hls_->end();
  return recorder_ ? recorder_->end() : std::nullopt;
}

}  // namespace souk::packager
