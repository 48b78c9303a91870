// Stream queries.
#include "souk/storage/streams.hpp"

#include "souk/storage/sqlite.hpp"

#include <algorithm>
#include <stdexcept>

namespace souk::storage {

std::string_view to_string(StreamStatus status) {
  switch (status) {
    case StreamStatus::scheduled: return "scheduled";
    case StreamStatus::live: return "live";
    case StreamStatus::ended: return "ended";
  }
  return "unknown";  // not reached: every enumerator is named above
}

std::optional<StreamStatus> parse_stream_status(std::string_view text) {
  for (const auto s : {StreamStatus::scheduled, StreamStatus::live, StreamStatus::ended}) {
    if (to_string(s) == text) return s;
  }
  return std::nullopt;
}

std::string_view to_string(IngestState state) {
  switch (state) {
    case IngestState::waiting: return "waiting";
    case IngestState::receiving: return "receiving";
    case IngestState::interrupted: return "interrupted";
    case IngestState::finished: return "finished";
  }
  return "unknown";  // not reached: every enumerator is named above
}

std::optional<IngestState> parse_ingest_state(std::string_view text) {
  for (const auto s : {IngestState::waiting, IngestState::receiving, IngestState::interrupted,
                       IngestState::finished}) {
    if (to_string(s) == text) return s;
  }
  return std::nullopt;
}

}  // namespace souk::storage

namespace souk::storage::streams {
namespace {

// The schema's CHECK constraints allow only the known spellings; anything else
// is a database this binary does not understand.
template <class T>
T stored(std::optional<T> parsed, const char* column, const std::string& text) {
  if (!parsed) {
    throw std::runtime_error(std::string("streams.") + column + ": unknown value '" + text + "'");
  }
  return *parsed;
}

constexpr const char* columns =
    "id, seller_id, title, description, category, audience, estimated_duration,"
    " notify_followers, notify_neighborhood, enable_chat, enable_comments, record_stream,"
    " scheduled_at, status, started_at, ended_at, ingest_state, vod_url, notifications_sent,"
    " viewer_count, duration_seconds, peak_viewers, unique_viewers, total_likes,"
    " chat_messages_count, average_watch_time, total_watch_time, created_at, updated_at, rowid, end_requested_at";

Stream read_stream(const Statement& r) {
  Stream s;
  s.id = r.text(0);
  s.seller_id = r.text(1);
  s.settings.title = r.text(2);
  s.settings.description = r.opt_text(3);
  s.settings.category = r.opt_text(4);
  s.settings.audience = r.text(5);
  s.settings.estimated_duration = r.opt_int64(6);
  s.settings.notify_followers = r.int64(7) != 0;
  s.settings.notify_neighborhood = r.int64(8) != 0;
  s.settings.enable_chat = r.int64(9) != 0;
  s.settings.enable_comments = r.int64(10) != 0;
  s.settings.record_stream = r.int64(11) != 0;
  s.settings.scheduled_at = r.opt_int64(12);
  s.status = stored(parse_stream_status(r.text(13)), "status", r.text(13));
  s.started_at = r.opt_int64(14);
  s.ended_at = r.opt_int64(15);
  s.ingest_state = stored(parse_ingest_state(r.text(16)), "ingest_state", r.text(16));
  s.vod_url = r.opt_text(17);
  s.notifications_sent = r.int64(18);
  s.viewer_count = r.int64(19);
  if (s.status == StreamStatus::ended) {
    s.stats = StoredStats{r.opt_int64(20).value_or(0), r.int64(21),
                          r.int64(22),                 r.int64(23),
                          r.int64(24),                 r.opt_int64(25).value_or(0),
                          r.opt_int64(26).value_or(0)};
  }
  s.created_at = r.int64(27);
  s.updated_at = r.int64(28);
  s.seq = r.int64(29);
  s.end_requested_at = r.opt_int64(30);
  return s;
}

}  // namespace

void insert(Connection& c, const Stream& s) {
  const auto& st = s.settings;
  c.execute(
      "INSERT INTO streams (id, seller_id, title, description, category, audience,"
      " estimated_duration, notify_followers, notify_neighborhood, enable_chat, enable_comments,"
      " record_stream, scheduled_at, status, created_at, updated_at)"
      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'scheduled', ?, ?)",
      s.id, s.seller_id, st.title, st.description, st.category, st.audience, st.estimated_duration,
      st.notify_followers, st.notify_neighborhood, st.enable_chat, st.enable_comments,
      st.record_stream, st.scheduled_at, s.created_at, s.updated_at);
}

std::optional<Stream> find_by_id(Connection& c, std::string_view id) {
  static const std::string sql = std::string("SELECT ") + columns + " FROM streams WHERE id = ?";
  auto q = c.query(sql, id);
  if (!q.next()) return std::nullopt;
  return read_stream(q.row());
}

void update_settings(Connection& c, std::string_view id, const StreamSettings& st, UnixMillis now) {
  c.execute(
      "UPDATE streams SET title = ?, description = ?, category = ?, audience = ?,"
      " estimated_duration = ?, notify_followers = ?, notify_neighborhood = ?, enable_chat = ?,"
      " enable_comments = ?, record_stream = ?, scheduled_at = ?, updated_at = ? WHERE id = ?",
      st.title, st.description, st.category, st.audience, st.estimated_duration,
      st.notify_followers, st.notify_neighborhood, st.enable_chat, st.enable_comments,
      st.record_stream, st.scheduled_at, now, id);
}

bool set_live(Connection& c, std::string_view id, const Sha256& key_hash, UnixMillis started_at,
              std::int64_t notifications_sent) {
  return c.execute(
             "UPDATE streams SET status = 'live', stream_key_hash = ?, started_at = ?,"
             " ingest_state = 'waiting', notifications_sent = ?, updated_at = ?"
             " WHERE id = ? AND status = 'scheduled'",
             Blob(key_hash), started_at, notifications_sent, started_at, id) > 0;
}

bool set_ended(Connection& c, std::string_view id, UnixMillis ended_at, const StoredStats& st,
               const std::optional<std::string>& vod_url) {
  return c.execute(
             "UPDATE streams SET status = 'ended', ended_at = ?, stream_key_hash = NULL,"
             " ingest_state = 'finished', viewer_count = 0, vod_url = ?, duration_seconds = ?,"
             " peak_viewers = ?, unique_viewers = ?, total_likes = ?, chat_messages_count = ?,"
             " average_watch_time = ?, total_watch_time = ?, updated_at = ?"
             " WHERE id = ? AND status = 'live'",
             ended_at, vod_url, st.duration_seconds, st.peak_viewers, st.unique_viewers,
             st.total_likes, st.chat_messages, st.average_watch_time, st.total_watch_time, ended_at,
             id) > 0;
}

void set_ingest_state(Connection& c, std::string_view id, IngestState state, UnixMillis now) {
  c.execute(
      "UPDATE streams SET ingest_state = ?, last_media_at = ?, updated_at = ?"
      " WHERE id = ? AND status = 'live'",
      to_string(state), now, now, id);
}

void set_vod(Connection& c, std::string_view id, std::string_view path, std::string_view url,
             UnixMillis now) {
  c.execute("UPDATE streams SET vod_path = ?, vod_url = ?, updated_at = ? WHERE id = ?", path, url,
            now, id);
}

std::vector<std::string> idle_live(Connection& c, UnixMillis cutoff) {
  auto q = c.query(
      "SELECT id FROM streams WHERE status = 'live' AND ingest_state <> 'receiving'"
      " AND COALESCE(last_media_at, started_at) < ?",
      cutoff);
  std::vector<std::string> out;
  while (q.next()) out.push_back(q->text(0));
  return out;
}

bool request_end(Connection& c, std::string_view id, UnixMillis now) {
  return c.execute(
             "UPDATE streams SET end_requested_at = COALESCE(end_requested_at, ?), updated_at = ?"
             " WHERE id = ? AND status = 'live'",
             now, now, id) > 0;
}

std::int64_t request_end_for_seller(Connection& c, std::string_view seller_id, UnixMillis now) {
  return c.execute(
      "UPDATE streams SET end_requested_at = COALESCE(end_requested_at, ?), updated_at = ?"
      " WHERE seller_id = ? AND status = 'live'",
      now, now, seller_id);
}

std::vector<std::string> end_requested(Connection& c) {
  auto q = c.query(
      "SELECT id FROM streams WHERE end_requested_at IS NOT NULL AND status = 'live'"
      " ORDER BY end_requested_at");
  std::vector<std::string> out;
  while (q.next()) out.push_back(q->text(0));
  return out;
}

std::int64_t interrupt_all_receiving(Connection& c, UnixMillis now) {
  return c.execute(
      "UPDATE streams SET ingest_state = 'interrupted', updated_at = ?"
      " WHERE status = 'live' AND ingest_state = 'receiving'",
      now);
}

std::int64_t count_live(Connection& c) {
  auto q = c.query("SELECT COUNT(*) FROM streams WHERE status = 'live'");
  return q.next() ? q->int64(0) : 0;
}

std::optional<std::string> find_live_by_key_hash(Connection& c, const Sha256& key_hash) {
  auto q = c.query(
      "SELECT s.id, s.stream_key_hash FROM streams s JOIN users u ON u.id = s.seller_id"
      " WHERE s.stream_key_hash = ? AND s.status = 'live' AND u.disabled_at IS NULL",
      Blob(key_hash));
  if (!q.next()) return std::nullopt;
  // The index finds the row; the decision is a constant-time comparison.
  const auto stored = q->blob(1);
  Sha256 stored_hash{};
  if (stored.size() != stored_hash.size()) return std::nullopt;
  std::copy(stored.begin(), stored.end(), stored_hash.begin());
  if (!constant_time_equal(stored_hash, key_hash)) return std::nullopt;
  return q->text(0);
}

std::vector<Stream> list(Connection& c, const StreamFilter& f) {
  // The WHERE clause is assembled from fixed fragments (never from input) so each
  // filter combination gets its own statement and can use streams_status or
  // streams_seller; values are bound.
  std::string sql = std::string("SELECT ") + columns + " FROM streams WHERE 1";
  std::vector<Value> args;
  if (f.status) {
    sql += " AND status = ?";
    args.emplace_back(std::string(to_string(*f.status)));
  }
  if (f.seller_id) {
    sql += " AND seller_id = ?";
    args.emplace_back(*f.seller_id);
  }
  if (f.after) {
    sql += " AND (created_at < ? OR (created_at = ? AND rowid < ?))";
    args.emplace_back(f.after->created_at);
    args.emplace_back(f.after->created_at);
    args.emplace_back(f.after->seq);
  }
  sql += " ORDER BY created_at DESC, rowid DESC LIMIT ?";
  args.emplace_back(static_cast<std::int64_t>(f.limit));
  auto q = c.query_values(sql, args);
  std::vector<Stream> out;
  while (q.next()) out.push_back(read_stream(q.row()));
  return out;
}

}  // namespace souk::storage::streams
