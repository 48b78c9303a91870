// The stream lifecycle service: go-live, end, end requests, restart recovery, URLs.
#include "souk/api/stream_lifecycle.hpp"

#include "souk/api/views.hpp"
#include "souk/log.hpp"
#include "souk/random.hpp"
#include "souk/storage/database.hpp"
#include "souk/storage/engagement.hpp"
#include "souk/storage/notifications.hpp"
#include "souk/storage/stream_products.hpp"
#include "souk/storage/stream_stats.hpp"
#include "souk/storage/users.hpp"

#include <algorithm>

namespace souk::api {
namespace {

using storage::Connection;
using storage::Stream;
using storage::StreamStatus;

constexpr std::size_t stream_key_bytes = 32;  // 256 bits from libsodium's CSPRNG

Stream load(Connection& c, std::string_view id) {
  auto s = is_uuid(id) ? storage::streams::find_by_id(c, id) : std::nullopt;
  if (!s) throw LifecycleError(LifecycleErrc::stream_not_found, "no such stream");
  return std::move(*s);
}

Stream load_owned(Connection& c, std::string_view id, std::string_view owner_id) {
  auto s = load(c, id);
  if (s.seller_id != owner_id)
    throw LifecycleError(LifecycleErrc::not_owner, "this stream is not yours");
  return s;
}

// Refuses unless the stream is in `wanted`; the message says what it is instead.
void require_status(const Stream& s, StreamStatus wanted, const char* message) {
  if (s.status == wanted) return;
  const auto code =
      wanted == StreamStatus::live ? LifecycleErrc::not_live : LifecycleErrc::not_scheduled;
  throw LifecycleError(
      code, std::string(message) + " (the stream is " + std::string(to_string(s.status)) + ")",
      s.status);
}

}  // namespace

StreamLifecycle::StreamLifecycle(storage::Database& db, LifecycleOptions options)
    : db_(db), options_(std::move(options)) {}

GoLiveResult StreamLifecycle::go_live(const std::string& stream_id, const storage::User& owner,
                                      const std::function<GoLiveChecklist()>& checklist) {
  auto out = db_.write([&](Connection& c) {
    const auto s = load_owned(c, stream_id, owner.id);
    if (s.status == StreamStatus::live) {
      throw LifecycleError(LifecycleErrc::already_live, "the stream is already live", s.status);
    }
    require_status(s, StreamStatus::scheduled, "an ended stream cannot go live again");
    const auto confirmed = checklist();
    if (!confirmed.camera_ready) {
      throw LifecycleError(LifecycleErrc::camera_not_ready, "confirm the camera is ready");
    }
    if (!confirmed.checklist_complete) {
      throw LifecycleError(LifecycleErrc::checklist_incomplete, "complete the pre-live checklist");
    }
    if (storage::stream_products::count(c, s.id) == 0) {
      throw LifecycleError(LifecycleErrc::no_products,
                           "attach at least one product before going live");
    }
    GoLiveResult o{s.id, random_token(stream_key_bytes), {}, now_millis()};
    o.notified = storage::notifications::create_for_go_live(
        c, s, owner, options_.neighborhood_radius_m, o.started_at);
    if (!storage::streams::set_live(c, s.id, sha256(o.stream_key), o.started_at,
                                    static_cast<std::int64_t>(o.notified.size()))) {
      // A concurrent go-live won between the read and this write.
      throw LifecycleError(LifecycleErrc::already_live, "the stream is already live",
                           StreamStatus::live);
    }
    if (event_outbox_) {
      event_outbox_->enqueue(c, "stream.live", s.id, details(c, load(c, s.id)), o.started_at);
    }
    return o;
  });
  if (event_outbox_) event_outbox_->committed();
  log::info("stream live", {{"stream_id", out.stream_id},
                            {"notifications", static_cast<std::uint64_t>(out.notified.size())}});
  for (auto* o : observers_) o->stream_live(out.stream_id, out.notified);
  return out;
}

nlohmann::json StreamLifecycle::end(const std::string& stream_id,
                                    const std::optional<std::string>& owner_id,
                                    std::string_view reason) {
  auto summary = db_.write([&](Connection& c) {
    const auto s = owner_id ? load_owned(c, stream_id, *owner_id) : load(c, stream_id);
    require_status(s, StreamStatus::live, "only a live stream can be ended");
    const auto ended_at = std::max(now_millis(), *s.started_at);
    // Viewers still in the room leave when the stream ends.
    storage::viewer_sessions::close_all_for_stream(c, s.id, ended_at);
    const auto f = storage::compute_stream_figures(c, s.id, *s.started_at, ended_at);
    const storage::StoredStats stored{
        f.duration_seconds, f.peak_viewers,          f.unique_viewers,     f.total_likes,
        f.chat_messages,    f.average_watch_seconds, f.total_watch_seconds};
    // Where the VOD will be: the packager finalizes it after this commit, and
    // stream details show vodUrl once the file is ready.
    std::optional<std::string> vod;
    if (s.settings.record_stream && ingest_status_ && ingest_status_->has_recording(s.id)) {
      vod = vod_url(s.id);
    }
    if (!storage::streams::set_ended(c, s.id, ended_at, stored, std::nullopt)) {
      throw LifecycleError(LifecycleErrc::not_live, "only a live stream can be ended");
    }
    nlohmann::json ended{{"streamId", s.id},
                         {"status", to_string(StreamStatus::ended)},
                         {"endedAt", format_iso8601(ended_at)},
                         {"durationSeconds", f.duration_seconds},
                         {"vodUrl", vod ? nlohmann::json(*vod) : nlohmann::json(nullptr)},
                         {"stats", end_stats_json(f)}};
    // Every end (owner, idle timeout, operator, after a restart) passes here:
    // the one place stream.ended is written, with the end it announces.
    if (event_outbox_) {
      auto data = ended;
      data["stream"] = details(c, load(c, s.id));
      event_outbox_->enqueue(c, "stream.ended", s.id, data, ended_at);
    }
    return ended;
  });
  if (event_outbox_) event_outbox_->committed();
  log::info("stream ended", {{"stream_id", stream_id},
                             {"duration_seconds", summary["durationSeconds"].get<std::int64_t>()},
                             {"reason", std::string(reason)}});
  for (auto* o : observers_) o->stream_ended(stream_id, summary);
  return summary;
}

std::size_t StreamLifecycle::end_requested() {
  const auto ids = db_.read([](Connection& c) { return storage::streams::end_requested(c); });
  return end_each(ids, "an operator ended it (souk-live stream end)");
}

std::size_t StreamLifecycle::end_idle(std::chrono::milliseconds idle_timeout) {
  const auto cutoff = now_millis() - idle_timeout.count();
  const auto ids =
      db_.read([cutoff](Connection& c) { return storage::streams::idle_live(c, cutoff); });
  return end_each(ids, "no publisher within the idle timeout");
}

std::size_t StreamLifecycle::end_each(const std::vector<std::string>& ids,
                                      std::string_view reason) {
  std::size_t ended = 0;
  for (const auto& id : ids) {
    try {
      end(id, std::nullopt, reason);
      ++ended;
    } catch (const LifecycleError&) {
      // Ended meanwhile (by its owner, the idle timeout or an operator).
    }
  }
  return ended;
}

void StreamLifecycle::request_end(Connection& c, const std::string& stream_id, UnixMillis now) {
  const auto s = load(c, stream_id);
  require_status(s, StreamStatus::live, "only a live stream can be ended");
  storage::streams::request_end(c, s.id, now);
}

std::int64_t StreamLifecycle::recover_after_restart(Connection& c, UnixMillis now) {
  // Viewers of the previous run left when it stopped (at the latest, now), and
  // the rooms are empty until someone joins.
  storage::viewer_sessions::close_all_open(c, now);
  storage::clear_viewer_counts(c);
  return storage::streams::interrupt_all_receiving(c, now);
}

nlohmann::json StreamLifecycle::details(Connection& c, const Stream& s) const {
  const auto seller = storage::users::find_by_id(c, s.seller_id);
  const auto products = storage::stream_products::list(c, s.id);
  auto j =
      stream_summary_json(s, *seller, static_cast<std::int64_t>(products.size()), hls_url(s.id));
  j["products"] = nlohmann::json::array();
  for (const auto& sp : products) j["products"].push_back(stream_product_json(sp));
  // The stored state (waiting, interrupted, finished) unless a publisher is
  // sending right now, in which case the hub's view of its media. A stored
  // "receiving" with nobody sending is a publisher that just left.
  const auto live_media = s.status == StreamStatus::live && ingest_status_
                              ? ingest_status_->publishing(s.id)
                              : std::nullopt;
  if (live_media) {
    j["ingest"] = *live_media;
    j["ingest"]["state"] = to_string(storage::IngestState::receiving);
  } else {
    const auto state = s.ingest_state == storage::IngestState::receiving
                           ? storage::IngestState::interrupted
                           : s.ingest_state;
    j["ingest"] = {{"state", to_string(state)},
                   {"video", nullptr},
                   {"audio", nullptr},
                   {"bitrateKbps", nullptr}};
  }
  return j;
}

std::string StreamLifecycle::hls_url(std::string_view stream_id) const {
  return options_.public_http_url + "/hls/" + std::string(stream_id) + "/index.m3u8";
}

std::string StreamLifecycle::vod_url(std::string_view stream_id) const {
  return options_.public_http_url + "/vod/" + std::string(stream_id) + ".mp4";
}

}  // namespace souk::api
