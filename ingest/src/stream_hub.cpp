// Stream hub: publisher registry, media status, frame fan-out.
#include "souk/ingest/stream_hub.hpp"

#include "souk/metrics.hpp"

#include <cmath>

namespace souk::ingest {

StreamHub::StreamHub(std::chrono::milliseconds takeover_after)
    : takeover_after_(takeover_after),
      publishers_metric_(metrics::Registry::global()
                             .gauge("souk_ingest_publishers", "RTMP publishers sending a stream now.")
                             .get()),
      bitrate_metric_(metrics::Registry::global()
                          .gauge("souk_ingest_media_bytes_per_second",
                                 "Media rate of all publishers together (bytes per second; times 8 for the bitrate), each measured over its last window of at least one second.")
                          .get()) {}

void StreamHub::add_sink(FrameSink* sink) { sinks_.push_back(sink); }

void StreamHub::add_listener(IngestListener* listener) { listeners_.push_back(listener); }

bool StreamHub::claim(const std::string& stream_id, const std::shared_ptr<Publisher>& p) {
  std::shared_ptr<Publisher> replaced;
  {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    auto it = streams_.find(stream_id);
    if (it != streams_.end()) {
      replaced = it->second.publisher.lock();
      if (replaced && now - it->second.last_media < takeover_after_) return false;
      bitrate_metric_.add(-static_cast<double>(it->second.metric_bytes_per_second));
    } else {
      publishers_metric_.inc();
    }
    Entry e;
    e.publisher = p;
    e.raw = p.get();
    // A new publisher gets the full silence window before it can be replaced.
    e.last_media = now;
    e.window_start = now;
    streams_[stream_id] = std::move(e);
  }
  // A takeover keeps the stream publishing: sinks see a restart, listeners see
  // it continue.
  if (replaced) {
    replaced->kick("replaced by a new publisher");
    for (auto* s : sinks_) s->publish_stopped(stream_id);
  }
  for (auto* s : sinks_) s->publish_started(stream_id);
  if (!replaced) {
    for (auto* l : listeners_) l->publisher_started(stream_id);
  }
  return true;
}

void StreamHub::release(const std::string& stream_id, const Publisher* p) {
  {
    std::lock_guard lock(mutex_);
    auto it = streams_.find(stream_id);
    if (it == streams_.end() || it->second.raw != p) return;
    bitrate_metric_.add(-static_cast<double>(it->second.metric_bytes_per_second));
    publishers_metric_.dec();
    streams_.erase(it);
  }
  for (auto* s : sinks_) s->publish_stopped(stream_id);
  for (auto* l : listeners_) l->publisher_stopped(stream_id);
}

void StreamHub::on_metadata(const std::string& stream_id, const Publisher* p,
                            const amf0::Value& metadata) {
  std::lock_guard lock(mutex_);
  auto it = streams_.find(stream_id);
  if (it != streams_.end() && it->second.raw == p) it->second.media.apply_metadata(metadata);
}

void StreamHub::on_frame(const Publisher* p, const FramePtr& frame) {
  {
    std::lock_guard lock(mutex_);
    auto it = streams_.find(frame->stream_id);
    if (it == streams_.end() || it->second.raw != p) return;  // replaced meanwhile
    Entry& e = it->second;
    const auto now = Clock::now();
    e.last_media = now;
    const bool unknown = frame->kind == MediaKind::video ? !e.media.video : !e.media.audio;
    if (frame->sequence_header || unknown) e.media.apply_frame(*frame);
    e.window_bytes += frame->buffer->size();
    const auto elapsed = std::chrono::duration<double>(now - e.window_start).count();
    if (elapsed >= 1.0) {
      const double kbps = static_cast<double>(e.window_bytes) * 8 / elapsed / 1000;
      // Whole bytes per second: integral deltas add up exactly, so the sum
      // returns to 0 when every publisher has gone.
      const auto bytes_per_second = std::llround(kbps * 1000 / 8);
      bitrate_metric_.add(static_cast<double>(bytes_per_second - e.metric_bytes_per_second));
      e.metric_bytes_per_second = bytes_per_second;
      e.bitrate_kbps = kbps;
      e.window_start = now;
      e.window_bytes = 0;
    }
  }
  for (auto* s : sinks_) s->on_frame(frame);
}

void StreamHub::kick(const std::string& stream_id, const char* reason) {
  std::shared_ptr<Publisher> p;
  {
    std::lock_guard lock(mutex_);
    auto it = streams_.find(stream_id);
    if (it == streams_.end()) return;
    p = it->second.publisher.lock();
  }
  if (p) p->kick(reason);
}

std::optional<StreamStatus> StreamHub::status(const std::string& stream_id) const {
  std::lock_guard lock(mutex_);
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return std::nullopt;
  return StreamStatus{true, it->second.media, it->second.bitrate_kbps};
}

std::size_t StreamHub::publishing_count() const {
  std::lock_guard lock(mutex_);
  return streams_.size();
}

}  // namespace souk::ingest
