// The stream lifecycle, in one place: going live, ending (by the owner, the idle
// timeout, an operator's request, after a restart), and the public HLS and VOD
// URLs. It owns the rules (who may end, which state each step needs, the /end
// summary) and tells the observers (publisher kick, HLS and recording finish,
// the room, webhooks through the EventOutbox). It knows no HTTP: a refusal is a
// LifecycleError, which the API turns into its JSON error. Blocking: callers are
// blocking-work threads (it runs SQLite transactions).
#pragma once

#include "souk/api/event_outbox.hpp"
#include "souk/api/ingest_status.hpp"
#include "souk/api/stream_observer.hpp"
#include "souk/storage/streams.hpp"
#include "souk/storage/users.hpp"
#include "souk/time.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace souk::storage {
class Connection;
class Database;
}  // namespace souk::storage

namespace souk::api {

// Why a lifecycle step was refused.
enum class LifecycleErrc {
  stream_not_found,  // unknown (or malformed) id
  not_owner,         // the stream is someone else's
  already_live,      // go-live of a live stream
  not_scheduled,     // go-live of an ended stream
  not_live,          // end (or end request) of a stream that is not live
  camera_not_ready,  // the go-live checklist, item by item
  checklist_incomplete,
  no_products,  // go-live without a product attached
};

class LifecycleError : public std::runtime_error {
 public:
  // `status`: the stream's status when it was refused for its state.
  LifecycleError(LifecycleErrc code, const std::string& message,
                 std::optional<storage::StreamStatus> status = std::nullopt)
      : std::runtime_error(message), code_(code), status_(status) {}
  LifecycleErrc code() const { return code_; }
  std::optional<storage::StreamStatus> status() const { return status_; }

 private:
  LifecycleErrc code_;
  std::optional<storage::StreamStatus> status_;
};

struct LifecycleOptions {
  std::string public_http_url;          // "http://host:8080", no trailing slash
  double neighborhood_radius_m = 2000;  // go-live notifies users within this of the seller
};

// What the seller confirms before going live.
struct GoLiveChecklist {
  bool camera_ready = false;
  bool checklist_complete = false;
};

struct GoLiveResult {
  std::string stream_id;
  std::string stream_key;             // shown once; only its hash is stored
  std::vector<std::string> notified;  // users who got a notification row
  UnixMillis started_at = 0;
};

class StreamLifecycle {
 public:
  StreamLifecycle(storage::Database& db, LifecycleOptions options);

  // Registered at wiring time, before any stream changes.
  void add_observer(StreamObserver* observer) { observers_.push_back(observer); }
  const std::vector<StreamObserver*>& observers() const { return observers_; }
  void set_ingest_status(IngestStatusSource* source) { ingest_status_ = source; }
  IngestStatusSource* ingest_status() const { return ingest_status_; }
  void set_event_outbox(EventOutbox* outbox) { event_outbox_ = outbox; }  // null: no webhooks
  EventOutbox* event_outbox() const { return event_outbox_; }

  // scheduled -> live for its owner, with a fresh stream key; notifies followers
  // and neighbours as the stream's audience says. `checklist` is read only once
  // ownership and state are settled, so a stranger learns nothing from it (and
  // whatever it throws, a malformed body, comes after those refusals).
  GoLiveResult go_live(const std::string& stream_id, const storage::User& owner,
                       const std::function<GoLiveChecklist()>& checklist);

  // live -> ended, as POST /streams/{id}/end does: viewer sessions closed,
  // figures stored, stream.ended written, observers told. `owner_id`, when
  // given, must own the stream. Returns the /end summary. `reason` is logged.
  nlohmann::json end(const std::string& stream_id, const std::optional<std::string>& owner_id,
                     std::string_view reason);

  // Ends the streams operators asked to end (request_end), and those without a
  // publisher for longer than `idle_timeout`. Each returns how many it ended;
  // a stream ended meanwhile by someone else is skipped. Throws if the query fails.
  std::size_t end_requested();
  std::size_t end_idle(std::chrono::milliseconds idle_timeout);

  // An operator (`souk-live stream end`, another process) asks for a live
  // stream to be ended; a running server's end_requested() ends it, or the next
  // start's. Runs in the caller's transaction on `c`. Throws LifecycleError
  // (stream_not_found, not_live).
  static void request_end(storage::Connection& c, const std::string& stream_id, UnixMillis now);

  // At start-up no publisher and no viewer is connected: viewer sessions the
  // previous run left open end (at most `now`) and live streams that were
  // receiving are interrupted. Returns how many streams were interrupted.
  static std::int64_t recover_after_restart(storage::Connection& c, UnixMillis now);

  // Stream details as GET /streams/{id} shows them: the summary, its products,
  // and what ingest sees (the hub's view while a publisher sends).
  nlohmann::json details(storage::Connection& c, const storage::Stream& s) const;

  // Where viewers watch it: {public_http_url}/hls/{id}/index.m3u8.
  std::string hls_url(std::string_view stream_id) const;
  // Where its recording is served once finalized: {public_http_url}/vod/{id}.mp4.
  std::string vod_url(std::string_view stream_id) const;

 private:
  std::size_t end_each(const std::vector<std::string>& ids, std::string_view reason);

  storage::Database& db_;
  LifecycleOptions options_;
  std::vector<StreamObserver*> observers_;
  IngestStatusSource* ingest_status_ = nullptr;
  EventOutbox* event_outbox_ = nullptr;
};

}  // namespace souk::api
