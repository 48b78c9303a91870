// Live streams: settings, lifecycle (scheduled -> live -> ended), the stream key
// (stored only as a hash) and the analytics columns stored at the end.
#pragma once

#include "souk/random.hpp"
#include "souk/time.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace souk::storage {

class Connection;

// Where a stream is in its life. Stored, and shown by the API, as the lowercase
// name; only these three exist (the schema's CHECK says the same).
enum class StreamStatus { scheduled, live, ended };

std::string_view to_string(StreamStatus status);
// nullopt for any other spelling (user input: the caller words the refusal).
std::optional<StreamStatus> parse_stream_status(std::string_view text);

// What ingest last saw of a live stream's publisher: waiting (gone live, never
// published), receiving, interrupted (published, then stopped), finished (ended).
enum class IngestState { waiting, receiving, interrupted, finished };

std::string_view to_string(IngestState state);
std::optional<IngestState> parse_ingest_state(std::string_view text);

struct StreamSettings {
  std::string title;
  std::optional<std::string> description;
  std::optional<std::string> category;
  std::string audience = "everyone";  // everyone | followers | neighborhood
  std::optional<std::int64_t> estimated_duration;  // minutes, 5..240
  bool notify_followers = true;
  bool notify_neighborhood = false;
  bool enable_chat = true;
  bool enable_comments = true;
  bool record_stream = true;
  std::optional<UnixMillis> scheduled_at;
};

// Figures stored when a stream ends (see stream_stats.hpp for how they are made).
struct StoredStats {
  std::int64_t duration_seconds = 0;
  std::int64_t peak_viewers = 0;
  std::int64_t unique_viewers = 0;
  std::int64_t total_likes = 0;
  std::int64_t chat_messages = 0;
  std::int64_t average_watch_time = 0;
  std::int64_t total_watch_time = 0;
};

struct Stream {
  std::string id;
  std::int64_t seq = 0;  // insertion order (rowid): breaks created_at ties in listings
  std::string seller_id;
  StreamSettings settings;
  StreamStatus status = StreamStatus::scheduled;
  std::optional<UnixMillis> started_at;
  std::optional<UnixMillis> ended_at;
  IngestState ingest_state = IngestState::waiting;
  std::optional<std::string> vod_url;
  std::int64_t notifications_sent = 0;
  std::int64_t viewer_count = 0;
  std::optional<StoredStats> stats;  // set once ended
  std::optional<UnixMillis> end_requested_at;  // `souk-live stream end`, until the server ends it
  UnixMillis created_at = 0;
  UnixMillis updated_at = 0;
};

struct StreamCursor {
  UnixMillis created_at;
  std::int64_t seq;
};

struct StreamFilter {
  std::optional<StreamStatus> status;
  std::optional<std::string> seller_id;
  std::optional<StreamCursor> after;  // page after this stream (newest first)
  int limit = 20;
};

namespace streams {

void insert(Connection& c, const Stream& s);
std::optional<Stream> find_by_id(Connection& c, std::string_view id);
void update_settings(Connection& c, std::string_view id, const StreamSettings& s, UnixMillis now);

// scheduled -> live with a fresh key hash. Returns false if the stream was not
// scheduled (a concurrent go-live won).
bool set_live(Connection& c, std::string_view id, const Sha256& key_hash, UnixMillis started_at,
              std::int64_t notifications_sent);

// live -> ended: stores the figures and forgets the key. Returns false if the
// stream was not live.
bool set_ended(Connection& c, std::string_view id, UnixMillis ended_at, const StoredStats& stats,
               const std::optional<std::string>& vod_url);

// Records what ingest sees of a live stream's publisher: receiving or
// interrupted (ignored once the stream is no longer live).
void set_ingest_state(Connection& c, std::string_view id, IngestState state, UnixMillis now);

// The recording is finalized: where it is on disk and where clients get it.
void set_vod(Connection& c, std::string_view id, std::string_view path, std::string_view url,
             UnixMillis now);

// Live streams without a publisher since before `cutoff` (never published: since
// go-live), which the idle timeout ends.
std::vector<std::string> idle_live(Connection& c, UnixMillis cutoff);

// An operator asks for a live stream to be ended (`souk-live stream end`); the
// server's sweep, or the next start, ends it as /end does. Returns false if the
// stream is not live.
bool request_end(Connection& c, std::string_view id, UnixMillis now);

// The same for every live stream of a seller (their account was disabled).
// Returns how many.
std::int64_t request_end_for_seller(Connection& c, std::string_view seller_id, UnixMillis now);

// Live streams an operator asked to end.
std::vector<std::string> end_requested(Connection& c);

// At start-up no publisher is connected: live streams that were receiving are
// interrupted. Returns how many.
std::int64_t interrupt_all_receiving(Connection& c, UnixMillis now);

// How many streams are live now (the souk_live_streams gauge).
std::int64_t count_live(Connection& c);

// The live stream whose key hashes to `key_hash`, compared in constant time;
// none if its seller's account is disabled.
std::optional<std::string> find_live_by_key_hash(Connection& c, const Sha256& key_hash);

// Newest first, filtered; returns at most filter.limit streams.
std::vector<Stream> list(Connection& c, const StreamFilter& filter);

}  // namespace streams

}  // namespace souk::storage
