// Adapters between ingest, storage and the API.
#include "souk/app/media_wiring.hpp"

#include "souk/log.hpp"
#include "souk/random.hpp"
#include "souk/storage/database.hpp"
#include "souk/storage/streams.hpp"

#include <boost/asio/post.hpp>

#include <nlohmann/json.hpp>

#include <cmath>

namespace souk::app {

void StoragePublishAuthorizer::authorize(const std::string& key,
                                         std::function<void(std::optional<std::string>)> done) {
  boost::asio::post(blocking_, [this, hash = sha256(key), done = std::move(done)] {
    std::optional<std::string> stream_id;
    try {
      stream_id = db_.read([&](storage::Connection& c) {
        return storage::streams::find_live_by_key_hash(c, hash);
      });
    } catch (const std::exception& e) {
      log::error("stream key lookup failed", {{"error", e.what()}});
    }
    done(std::move(stream_id));
  });
}

void IngestStateRecorder::publisher_started(const std::string& stream_id) {
  record(stream_id, storage::IngestState::receiving);
}

void IngestStateRecorder::publisher_stopped(const std::string& stream_id) {
  record(stream_id, storage::IngestState::interrupted);
}

void IngestStateRecorder::record(const std::string& stream_id, storage::IngestState state) {
  boost::asio::post(blocking_, [this, stream_id, state] {
    try {
      db_.write([&](storage::Connection& c) {
        storage::streams::set_ingest_state(c, stream_id, state, now_millis());
      });
    } catch (const std::exception& e) {
      log::error("recording ingest state failed", {{"stream_id", stream_id}, {"error", e.what()}});
    }
  });
}

void MediaPlane::stream_ended(const std::string& stream_id, const nlohmann::json&) {
  hub_.kick(stream_id, "the stream ended");
  packager_.end_stream(stream_id);
}

void VodRecorder::recording_ready(const std::string& stream_id, const std::filesystem::path& path) {
  try {
    const auto url = lifecycle_.vod_url(stream_id);
    auto* events = lifecycle_.event_outbox();
    const bool announced = db_.write([&](storage::Connection& c) {
      const auto stream = storage::streams::find_by_id(c, stream_id);
      const auto now = now_millis();
      storage::streams::set_vod(c, stream_id, path.string(), url, now);
      // Once: a recording finalized again after a crash is the same VOD.
      if (!events || !stream || stream->vod_url) return false;
      events->enqueue(c, "recording.ready", stream_id, {{"streamId", stream_id}, {"vodUrl", url}},
                      now);
      return true;
    });
    if (announced) events->committed();
  } catch (const std::exception& e) {
    log::error("storing the VOD location failed", {{"stream_id", stream_id}, {"error", e.what()}});
  }
}

bool stream_records(storage::Database& db, const std::string& stream_id) {
  const auto s = db.read([&](storage::Connection& c) { return storage::streams::find_by_id(c, stream_id); });
  return s && s->settings.record_stream;
}

bool stream_is_live(storage::Database& db, const std::string& stream_id) {
  const auto s = db.read([&](storage::Connection& c) { return storage::streams::find_by_id(c, stream_id); });
  return s && s->status == storage::StreamStatus::live;
}

std::optional<nlohmann::json> MediaPlane::publishing(const std::string& stream_id) {
  const auto status = hub_.status(stream_id);
  if (!status) return std::nullopt;
  const auto opt = [](const auto& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
  nlohmann::json j = {{"video", nullptr}, {"audio", nullptr}, {"bitrateKbps", nullptr}};
  if (const auto& v = status->media.video) {
    j["video"] = {{"codec", v->codec}, {"width", opt(v->width)}, {"height", opt(v->height)},
                  {"fps", opt(v->fps)}};
  }
  if (const auto& a = status->media.audio) {
    j["audio"] = {{"codec", a->codec}, {"sampleRate", opt(a->sample_rate)},
                  {"channels", opt(a->channels)}};
  }
  if (status->bitrate_kbps) j["bitrateKbps"] = std::round(*status->bitrate_kbps);
  if (status->media.encoder) j["encoder"] = *status->media.encoder;
  return j;
}

}  // namespace souk::app
