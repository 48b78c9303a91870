// The adapters that connect ingest to storage and the API, so that neither
// knows the other: key checks, ingest state persistence, kicking the publisher
// when a stream ends, and the live media status shown in stream details.
#pragma once

#include "souk/api/event_outbox.hpp"
#include "souk/api/ingest_status.hpp"
#include "souk/api/realtime/realtime.hpp"
#include "souk/api/stream_lifecycle.hpp"
#include "souk/api/stream_observer.hpp"
#include "souk/ingest/stream_hub.hpp"
#include "souk/packager/packager.hpp"

#include <boost/asio/thread_pool.hpp>

namespace souk::storage {
class Database;
}

namespace souk::app {

// Ingest asks "whose key is this?": answered from storage on the blocking pool.
class StoragePublishAuthorizer final : public ingest::PublishAuthorizer {
 public:
  StoragePublishAuthorizer(storage::Database& db, boost::asio::thread_pool& blocking)
      : db_(db), blocking_(blocking) {}
  void authorize(const std::string& key,
                 std::function<void(std::optional<std::string>)> done) override;

 private:
  storage::Database& db_;
  boost::asio::thread_pool& blocking_;
};

// Persists receiving / interrupted as publishers come and go.
class IngestStateRecorder final : public ingest::IngestListener {
 public:
  IngestStateRecorder(storage::Database& db, boost::asio::thread_pool& blocking)
      : db_(db), blocking_(blocking) {}
  void publisher_started(const std::string& stream_id) override;
  void publisher_stopped(const std::string& stream_id) override;

 private:
  void record(const std::string& stream_id, storage::IngestState state);
  storage::Database& db_;
  boost::asio::thread_pool& blocking_;
};

// Tells stream rooms when media starts, stops and returns.
class RealtimeMediaEvents final : public ingest::IngestListener {
 public:
  explicit RealtimeMediaEvents(api::Realtime& realtime) : realtime_(realtime) {}
  void publisher_started(const std::string& stream_id) override { realtime_.media_started(stream_id); }
  void publisher_stopped(const std::string& stream_id) override { realtime_.media_stopped(stream_id); }

 private:
  api::Realtime& realtime_;
};

// Stores the VOD's location when the packager has finalized it, and announces it
// (recording.ready) the first time, in the same transaction.
class VodRecorder final : public packager::RecordingSink {
 public:
  // The lifecycle says where the VOD is served, and whether webhooks are on.
  VodRecorder(storage::Database& db, const api::StreamLifecycle& lifecycle)
      : db_(db), lifecycle_(lifecycle) {}
  void recording_ready(const std::string& stream_id, const std::filesystem::path& path) override;

 private:
  storage::Database& db_;
  const api::StreamLifecycle& lifecycle_;
};

// Whether a stream records, asked by the packager on the media pool.
bool stream_records(storage::Database& db, const std::string& stream_id);
// Whether a stream is live (for recordings found at start-up).
bool stream_is_live(storage::Database& db, const std::string& stream_id);

// The API's view of the media plane.
class MediaPlane final : public api::StreamObserver, public api::IngestStatusSource {
 public:
  MediaPlane(ingest::StreamHub& hub, packager::Packager& packager) : hub_(hub), packager_(packager) {}

  void stream_live(const std::string&, const std::vector<std::string>&) override {}
  void stream_ended(const std::string& stream_id, const nlohmann::json&) override;
  void product_tagged(const std::string&, const nlohmann::json&) override {}

  std::optional<nlohmann::json> publishing(const std::string& stream_id) override;
  bool has_recording(const std::string& stream_id) override {
    return packager_.has_recording(stream_id);
  }

 private:
  ingest::StreamHub& hub_;
  packager::Packager& packager_;
};

}  // namespace souk::app
