// Viewer sessions, chat and reactions.
#include "souk/storage/engagement.hpp"

#include "souk/storage/sqlite.hpp"

#include <algorithm>

namespace souk::storage {

namespace viewer_sessions {

std::int64_t open(Connection& c, std::string_view stream_id, std::string_view socket_id,
                  const std::optional<std::string>& user_id, std::string_view viewer_key,
                  UnixMillis joined_at) {
  c.execute(
      "INSERT INTO viewer_sessions (stream_id, socket_id, user_id, viewer_key, joined_at)"
      " VALUES (?, ?, ?, ?, ?)",
      stream_id, socket_id, user_id, viewer_key, joined_at);
  return c.last_insert_rowid();
}

void close(Connection& c, std::int64_t session_id, UnixMillis left_at) {
  c.execute(
      "UPDATE viewer_sessions SET left_at = MAX(joined_at, ?) WHERE id = ? AND left_at IS NULL",
      left_at, session_id);
}

std::int64_t close_all_open(Connection& c, UnixMillis at) {
  return c.execute(
      "UPDATE viewer_sessions SET left_at = MAX(joined_at, ?) WHERE left_at IS NULL", at);
}

std::int64_t close_all_for_stream(Connection& c, std::string_view stream_id, UnixMillis left_at) {
  return c.execute("UPDATE viewer_sessions SET left_at = ? WHERE stream_id = ? AND left_at IS NULL",
                   left_at, stream_id);
}

}  // namespace viewer_sessions

void record_viewer_count(Connection& c, std::string_view stream_id, std::int64_t current) {
  c.execute(
      "UPDATE streams SET viewer_count = ?1, peak_viewers = MAX(peak_viewers, ?1) WHERE id = ?2"
      " AND status <> 'ended'",
      current, stream_id);
}

std::int64_t clear_viewer_counts(Connection& c) {
  return c.execute("UPDATE streams SET viewer_count = 0 WHERE viewer_count <> 0");
}

namespace chat {

void insert(Connection& c, const ChatMessage& m) {
  c.execute(
      "INSERT INTO chat_messages (id, stream_id, user_id, message, created_at) VALUES (?, ?, ?, ?, ?)",
      m.id, m.stream_id, m.user_id, m.message, m.created_at);
}

std::vector<ChatMessage> recent(Connection& c, std::string_view stream_id, int limit) {
  auto q = c.query(
      "SELECT m.id, m.stream_id, m.user_id, u.username, u.avatar_url, m.message, m.created_at"
      " FROM chat_messages m JOIN users u ON u.id = m.user_id WHERE m.stream_id = ?"
      " ORDER BY m.created_at DESC, m.rowid DESC LIMIT ?",
      stream_id, static_cast<std::int64_t>(limit));
  std::vector<ChatMessage> out;
  while (q.next()) {
    const auto& r = q.row();
    out.push_back({r.text(0), r.text(1), r.text(2), r.text(3), r.opt_text(4), r.text(5), r.int64(6)});
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace chat

namespace reactions {
void insert(Connection& c, std::string_view stream_id, std::string_view user_id,
            std::string_view emoji, UnixMillis at) {
  c.execute("INSERT INTO reactions (stream_id, user_id, emoji, created_at) VALUES (?, ?, ?, ?)",
            stream_id, user_id, emoji, at);
}
}  // namespace reactions

std::vector<NotificationRow> stream_notifications(Connection& c, std::string_view stream_id) {
  auto q = c.query(
      "SELECT id, user_id, created_at FROM notifications WHERE stream_id = ? AND kind = 'stream_live'",
      stream_id);
  std::vector<NotificationRow> out;
  while (q.next()) out.push_back({q->text(0), q->text(1), q->int64(2)});
  return out;
}

}  // namespace souk::storage
