// The hub between publishers and everything that consumes their media. It owns
// who publishes which stream (one publisher per stream; a silent one can be
// replaced), what is known of each stream's media, and the fan-out of frames to
// sinks. Thread-safe: sessions call it from their strands.
#pragma once

#include "souk/ingest/amf0.hpp"
#include "souk/ingest/flv.hpp"
#include "souk/ingest/frame.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace souk::metrics {
class Gauge;
}

namespace souk::ingest {

// Resolves a stream key to the live stream it belongs to (storage implements it;
// see app/). `done` may be called on any thread, exactly once.
class PublishAuthorizer {
 public:
  virtual ~PublishAuthorizer() = default;
  virtual void authorize(const std::string& key,
                         std::function<void(std::optional<std::string> stream_id)> done) = 0;
};

// A consumer of frames (the packager). Called on the publisher's strand: it must
// not block; it queues and drops by its own bound.
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  virtual void publish_started(const std::string& stream_id) = 0;
  virtual void on_frame(const FramePtr& frame) = 0;
  virtual void publish_stopped(const std::string& stream_id) = 0;
};

// Told when a stream's publisher comes and goes (persisting ingest state,
// realtime notices). Called after the hub's state changed; must not block.
class IngestListener {
 public:
  virtual ~IngestListener() = default;
  virtual void publisher_started(const std::string& stream_id) = 0;
  virtual void publisher_stopped(const std::string& stream_id) = 0;
};

// What the hub needs of a publishing session.
class Publisher {
 public:
  virtual ~Publisher() = default;
  // Closes the connection (thread-safe; asynchronous).
  virtual void kick(const char* reason) = 0;
};

struct StreamStatus {
  bool publishing = false;
  MediaInfo media;
  std::optional<double> bitrate_kbps;
};

class StreamHub {
 public:
  using Clock = std::chrono::steady_clock;

  // A publisher silent this long can be replaced by a new one with the key.
  explicit StreamHub(std::chrono::milliseconds takeover_after = std::chrono::seconds(3));

  // Wiring, before any publisher arrives: from then on the lists are read
  // without the lock (on every frame), so they must not change.
  void add_sink(FrameSink* sink);
  void add_listener(IngestListener* listener);

  // Makes `p` the stream's publisher. False while another publisher is sending
  // media; a silent one is kicked and replaced.
  bool claim(const std::string& stream_id, const std::shared_ptr<Publisher>& p);
  // The publisher is gone (only acts if `p` is still the stream's publisher).
  void release(const std::string& stream_id, const Publisher* p);

  void on_metadata(const std::string& stream_id, const Publisher* p, const amf0::Value& metadata);
  void on_frame(const Publisher* p, const FramePtr& frame);

  // Disconnects the stream's publisher, if any (the stream ended).
  void kick(const std::string& stream_id, const char* reason);

  std::optional<StreamStatus> status(const std::string& stream_id) const;
  std::size_t publishing_count() const;

 private:
  struct Entry {
    std::weak_ptr<Publisher> publisher;
    const Publisher* raw = nullptr;
    Clock::time_point last_media;
    MediaInfo media;
    // Bitrate over windows of at least one second.
    Clock::time_point window_start;
    std::uint64_t window_bytes = 0;
    std::optional<double> bitrate_kbps;
    std::int64_t metric_bytes_per_second = 0;  // this stream's share of the rate gauge
  };

  std::chrono::milliseconds takeover_after_;
  // Changed under mutex_, with the entries they sum up.
  metrics::Gauge& publishers_metric_;
  metrics::Gauge& bitrate_metric_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> streams_;
  std::vector<FrameSink*> sinks_;            // fixed once publishers arrive
  std::vector<IngestListener*> listeners_;  // likewise
};

}  // namespace souk::ingest
