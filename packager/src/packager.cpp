// Per-stream lanes on the media pool.
#include "souk/packager/packager.hpp"

#include "souk/log.hpp"
#include "souk/metrics.hpp"
#include "souk/packager/atomic_file.hpp"
#include "souk/packager/recording_finalizer.hpp"
#include "souk/time.hpp"

#include <boost/asio/post.hpp>

#include <chrono>
#include <fstream>
#include <sstream>
#include <utility>

namespace souk::packager {
namespace fs = std::filesystem;
namespace net = boost::asio;

namespace {
// Besides its wait (PackagerOptions::max_lag), a lane is behind past either of
// these: about 10 s of 30 fps video and audio, or 3 MB of media (3 s at 8
// Mbit/s). A healthy lane holds one batch (PackagerOptions::batch_interval);
// the bounds keep a lane that cannot keep up from holding more than that.
constexpr std::size_t max_queued_frames = 1000;
constexpr std::size_t max_queued_bytes = std::size_t{3} * 1024 * 1024;

metrics::Counter& dropped_frames_metric() {
  static auto& counter = metrics::Registry::global()
                             .counter("souk_packager_dropped_frames_total",
                                      "Frames dropped because their stream's lane was behind the live edge.")
                             .get();
  return counter;
}

std::int64_t steady_millis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

Packager::Packager(net::thread_pool& media_pool, PackagerOptions options,
                   std::function<bool(const std::string&)> should_record, RecordingSink& recordings)
    : pool_(media_pool),
      options_(std::move(options)),
      should_record_(std::move(should_record)),
      recordings_(recordings),
      dropped_metric_(dropped_frames_metric()),
      batch_timer_(media_pool.get_executor()) {}

Packager::~Packager() {
  std::lock_guard lock(ready_mutex_);
  batch_timer_.cancel();
}

std::shared_ptr<Packager::Lane> Packager::lane(const std::string& stream_id, bool create) {
  std::lock_guard lock(mutex_);
  auto it = lanes_.find(stream_id);
  if (it != lanes_.end()) return it->second;
  if (!create) return nullptr;
  auto l = std::make_shared<Lane>(pool_, stream_id);
  lanes_.emplace(stream_id, l);
  return l;
}

Packager::Backlog Packager::backlog(const std::string& stream_id) const {
  std::lock_guard lock(mutex_);
  const auto it = lanes_.find(stream_id);
  if (it == lanes_.end()) return {};
  return {it->second->queued.load(), it->second->queued_bytes.load()};
}

void Packager::ensure_packager(Lane& l, const std::string& stream_id) {
  if (l.packager) return;
  const bool record = should_record_(stream_id);
  l.packager = std::make_unique<StreamPackager>(stream_id, options_, record);
  if (record) {
    std::lock_guard lock(mutex_);
    recording_.insert(stream_id);
  }
}

void Packager::publish_started(const std::string& stream_id) {
  enqueue(lane(stream_id, true), {Queued::Kind::started, nullptr, 0});
}

bool Packager::behind(const Lane& l, std::int64_t now_ms, std::size_t divisor) const {
  return l.queued.load() >= max_queued_frames / divisor || l.queued_bytes.load() >= max_queued_bytes / divisor ||
         now_ms - l.front_arrival_ms.load() >= options_.max_lag.count() / static_cast<std::int64_t>(divisor);
}

void Packager::on_frame(const ingest::FramePtr& frame) {
  auto l = lane(frame->stream_id, false);
  if (!l) return;
  const auto now = steady_millis();
  if (l->queued.load() == 0) l->front_arrival_ms = now;  // nothing waits: no lag
  if (frame->kind == ingest::MediaKind::video) l->has_video = true;
  // Bounded: when the lane falls behind, drop until a clean restart point (a
  // video keyframe; any audio frame of a stream without video), but always keep
  // sequence headers.
  const bool restart_point = frame->kind == ingest::MediaKind::video
                                 ? frame->keyframe
                                 : frame->kind == ingest::MediaKind::audio && !l->has_video;
  if (behind(*l, now, 1)) l->dropping = true;
  if (l->dropping && !frame->sequence_header) {
    // Resume at a restart point once the lane has caught up to half the bounds.
    if (!restart_point || behind(*l, now, 2)) {
      dropped_metric_.inc();
      if (dropped_.fetch_add(1) % 1000 == 0) {
        log::warn("packager: behind the live edge, dropping frames",
                  {{"stream_id", frame->stream_id}, {"dropped_total", dropped_.load()}});
      }
      return;
    }
    l->dropping = false;
  }
  ++l->queued;
  l->queued_bytes += frame->data().size();
  // A restart point may close a segment.
  enqueue(l, {Queued::Kind::frame, frame, now_millis(), now}, restart_point);
}

void Packager::enqueue(const std::shared_ptr<Lane>& l, Queued q, bool urgent) {
  bool schedule = false;
  {
    std::lock_guard lock(l->inbox_mutex);
    l->inbox.push_back(std::move(q));
    schedule = !std::exchange(l->drain_pending, true);
  }
  if (urgent) {
    // A batch the lane is already in finds its inbox drained: a wasted wake,
    // once a segment.
    post_drain(l);
  } else if (schedule) {
    schedule_drain(l);
  }
}

void Packager::schedule_drain(const std::shared_ptr<Lane>& l) {
  std::lock_guard lock(ready_mutex_);
  ready_.push_back(l);
  if (std::exchange(batch_armed_, true)) return;
  batch_timer_.expires_after(options_.batch_interval);
  batch_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;  // cancelled: the packager is going away
    std::vector<std::shared_ptr<Lane>> ready;
    {
      std::lock_guard guard(ready_mutex_);
      ready.swap(ready_);
      batch_armed_ = false;
    }
    for (auto& lane : ready) post_drain(lane);
  });
}

void Packager::post_drain(const std::shared_ptr<Lane>& l) {
  net::post(l->strand, [this, l] { drain(*l); });
}

void Packager::drain(Lane& l) {
  {
    std::lock_guard lock(l.inbox_mutex);
    l.draining.swap(l.inbox);
    l.drain_pending = false;
  }
  for (const auto& q : l.draining) {
    switch (q.kind) {
      case Queued::Kind::started:
        if (l.ended) break;
        try {
          ensure_packager(l, l.stream_id);
          l.packager->publish_started();
        } catch (const std::exception& e) {
          log::error("packager: cannot start", {{"stream_id", l.stream_id}, {"error", e.what()}});
        }
        break;
      case Queued::Kind::frame:
        l.front_arrival_ms = q.arrival_ms;  // before the count, which on_frame reads first
        --l.queued;
        l.queued_bytes -= q.frame->data().size();
        if (!l.ended && l.packager) l.packager->frame(*q.frame, q.wall_clock_ms);
        break;
      case Queued::Kind::stopped:
        if (!l.ended && l.packager) l.packager->publish_stopped();
        break;
    }
  }
  l.draining.clear();  // the frames go now; the capacity stays for the next batch
}

void Packager::publish_stopped(const std::string& stream_id) {
  if (auto l = lane(stream_id, false)) enqueue(l, {Queued::Kind::stopped, nullptr, 0});
}

void Packager::end_stream(const std::string& stream_id) {
  auto l = lane(stream_id, false);
  if (!l) {
    // Nobody published since a restart: the playlist from before it gets its
    // ENDLIST, and what was recorded before it is the VOD.
    net::post(pool_, [this, stream_id] {
      end_playlist_file(stream_id);
      std::error_code ec;
      const auto vod = vod_path(options_, stream_id);
      if (fs::exists(vod, ec)) recordings_.recording_ready(stream_id, vod);
    });
    return;
  }
  net::post(l->strand, [this, l, stream_id] {
    drain(*l);  // the frames that arrived before /end are in the recording
    if (l->ended) return;
    l->ended = true;
    std::optional<fs::path> vod;
    if (l->packager) vod = l->packager->end();
    l->packager.reset();
    {
      std::lock_guard lock(mutex_);
      lanes_.erase(stream_id);
    }
    if (vod) {
      log::info("recording finalized", {{"stream_id", stream_id}, {"path", vod->string()}});
      recordings_.recording_ready(stream_id, *vod);
    }
  });
}

bool Packager::has_recording(const std::string& stream_id) const {
  {
    std::lock_guard lock(mutex_);
    if (recording_.count(stream_id) > 0) return true;
  }
  // A part recorded before a restart.
  std::error_code ec;
  return fs::exists(vod_path(options_, stream_id), ec);
}

void Packager::recover(const std::function<bool(const std::string&)>& still_live) {
  std::error_code ec;
  const auto vod_dir = options_.data_dir / "vod";
  const std::string suffix = ".rec.mp4";
  for (const auto& entry : fs::directory_iterator(vod_dir, ec)) {
    const auto name = entry.path().filename().string();
    if (name.size() <= suffix.size() || !name.ends_with(suffix)) continue;
    const auto stream_id = name.substr(0, name.size() - suffix.size());
    const auto out = vod_path(options_, stream_id);
    try {
      const auto made = finalize_recording(entry.path(), out);
      const bool live = still_live(stream_id);
      if (made == Finalized::appended) {
        log::info("recording finalized after restart", {{"stream_id", stream_id}, {"still_live", live}});
      } else {
        // Killed before the first fragment reached the disk: the leftover is
        // gone, and a VOD from an earlier part (if any) stays as it was.
        log::warn("leftover recording held no media, removed",
                  {{"stream_id", stream_id}, {"still_live", live}});
      }
      std::error_code missing;
      if (!live && fs::exists(out, missing)) recordings_.recording_ready(stream_id, out);
    } catch (const std::exception& e) {
      log::error("packager: leftover recording could not be finalized",
                 {{"stream_id", stream_id}, {"error", e.what()}});
    }
  }
  for (const auto& entry : fs::directory_iterator(options_.data_dir / "hls", ec)) {
    const auto stream_id = entry.path().filename().string();
    if (!still_live(stream_id)) end_playlist_file(stream_id);
  }
}

void Packager::end_playlist_file(const std::string& stream_id) {
  const auto path = hls_dir(options_, stream_id) / "index.m3u8";
  std::ifstream in(path, std::ios::binary);
  if (!in) return;
  std::ostringstream text;
  text << in.rdbuf();
  HlsPlaylist playlist(options_.segment_seconds, options_.playlist_window);
  if (!playlist.restore(text.str()) || playlist.ended()) return;
  playlist.end();
  try {
    write_file_atomically(path, playlist.render());
    // No lane wrote it in this run, but should a copy be cached, it is stale now.
    if (options_.cache != nullptr) options_.cache->erase(path.string());
    log::info("playlist ended", {{"stream_id", stream_id}});
  } catch (const std::exception& e) {
    log::error("packager: playlist could not be ended", {{"stream_id", stream_id}, {"error", e.what()}});
  }
}

}  // namespace souk::packager
