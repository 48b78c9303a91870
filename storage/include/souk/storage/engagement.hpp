// What viewers do in a stream's room: viewer sessions (join to leave), chat
// messages and reactions. The figures of stream_stats.hpp are computed from these.
#pragma once

#include "souk/time.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace souk::storage {

class Connection;

namespace viewer_sessions {
// Returns the session's id. viewer_key is the user id, or the socket id when anonymous.
std::int64_t open(Connection& c, std::string_view stream_id, std::string_view socket_id,
                  const std::optional<std::string>& user_id, std::string_view viewer_key,
                  UnixMillis joined_at);
// Closes a session still open (a no-op once /end closed it).
void close(Connection& c, std::int64_t session_id, UnixMillis left_at);
// Open sessions left by a previous run end when it did (at most `at`).
std::int64_t close_all_open(Connection& c, UnixMillis at);
// The stream ended at `left_at`: viewers still in its room leave then. Returns
// how many sessions were open.
std::int64_t close_all_for_stream(Connection& c, std::string_view stream_id, UnixMillis left_at);
}  // namespace viewer_sessions

// Keeps the stream's current and peak viewer counts.
void record_viewer_count(Connection& c, std::string_view stream_id, std::int64_t current);
// At start-up nobody is in any room: every stream's current viewer count is 0
// (a run that crashed left its last count behind). Returns the streams changed.
std::int64_t clear_viewer_counts(Connection& c);

struct ChatMessage {
  std::string id;
  std::string stream_id;
  std::string user_id;
  std::string username;
  std::optional<std::string> avatar_url;
  std::string message;
  UnixMillis created_at = 0;
};

namespace chat {
void insert(Connection& c, const ChatMessage& m);
// The last `limit` messages, oldest first.
std::vector<ChatMessage> recent(Connection& c, std::string_view stream_id, int limit);
}  // namespace chat

namespace reactions {
void insert(Connection& c, std::string_view stream_id, std::string_view user_id,
            std::string_view emoji, UnixMillis at);
}

struct NotificationRow {
  std::string id;
  std::string user_id;
  UnixMillis created_at;
};
std::vector<NotificationRow> stream_notifications(Connection& c, std::string_view stream_id);

}  // namespace souk::storage
