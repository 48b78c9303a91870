// The realtime events' reads and writes, as storage/ transactions.
#include "souk/app/realtime_store.hpp"

#include "souk/storage/auth_tokens.hpp"
#include "souk/storage/database.hpp"
#include "souk/storage/engagement.hpp"
#include "souk/storage/stream_products.hpp"
#include "souk/storage/streams.hpp"
#include "souk/storage/users.hpp"

namespace souk::app {
namespace {

std::optional<api::RealtimeStream> realtime_stream(storage::Connection& c, const std::string& id) {
  const auto s = storage::streams::find_by_id(c, id);
  if (!s) return std::nullopt;
  return api::RealtimeStream{s->id, s->seller_id, s->status, s->settings.enable_chat};
}

}  // namespace

std::optional<api::RealtimeUser> DatabaseRealtimeStore::user_for_token(const Sha256& token_hash,
                                                                       UnixMillis now) {
  return db_.read([&](storage::Connection& c) -> std::optional<api::RealtimeUser> {
    const auto id = storage::auth_tokens::find_user(c, token_hash, now);
    const auto user = id ? storage::users::find_by_id(c, *id) : std::nullopt;
    if (!user) return std::nullopt;
    return api::RealtimeUser{user->id, user->username, user->avatar_url};
  });
}

std::optional<api::RealtimeStream> DatabaseRealtimeStore::find_stream(
    const std::string& stream_id) {
  return db_.read([&](storage::Connection& c) { return realtime_stream(c, stream_id); });
}

std::optional<api::JoinSnapshot> DatabaseRealtimeStore::join(
    const std::string& stream_id, const std::optional<api::ViewerSessionStart>& start,
    int recent_chat) {
  return db_.write([&](storage::Connection& c) -> std::optional<api::JoinSnapshot> {
    if (!storage::streams::find_by_id(c, stream_id)) return std::nullopt;
    api::JoinSnapshot snapshot;
    if (start) {
      snapshot.viewer_session = storage::viewer_sessions::open(
          c, stream_id, start->socket_id, start->user_id, start->viewer_key, start->joined_at);
      storage::record_viewer_count(c, stream_id, start->viewer_count);
    }
    snapshot.products = storage::stream_products::list(c, stream_id);
    snapshot.recent_chat = storage::chat::recent(c, stream_id, recent_chat);
    return snapshot;
  });
}

void DatabaseRealtimeStore::leave(const std::string& stream_id, std::int64_t viewer_session,
                                  std::int64_t viewer_count, UnixMillis left_at) {
  db_.write([&](storage::Connection& c) {
    storage::viewer_sessions::close(c, viewer_session, left_at);
    storage::record_viewer_count(c, stream_id, viewer_count);
  });
}

bool DatabaseRealtimeStore::add_chat_message(const storage::ChatMessage& message,
                                             const Admit& admit) {
  return db_.write([&](storage::Connection& c) {
    const auto s = realtime_stream(c, message.stream_id);
    if (!s) return false;
    admit(*s);  // throws to refuse: the transaction rolls back
    storage::chat::insert(c, message);
    return true;
  });
}

bool DatabaseRealtimeStore::add_reaction(const std::string& stream_id, const std::string& user_id,
                                         const std::string& emoji, UnixMillis at,
                                         const Admit& admit) {
  return db_.write([&](storage::Connection& c) {
    const auto s = realtime_stream(c, stream_id);
    if (!s) return false;
    admit(*s);
    storage::reactions::insert(c, stream_id, user_id, emoji, at);
    return true;
  });
}

std::vector<storage::NotificationRow> DatabaseRealtimeStore::stream_notifications(
    const std::string& stream_id) {
  return db_.read(
      [&](storage::Connection& c) { return storage::stream_notifications(c, stream_id); });
}

std::vector<std::string> DatabaseRealtimeStore::live_streams(
    const std::vector<std::string>& stream_ids) {
  return db_.read([&](storage::Connection& c) {
    std::vector<std::string> live;
    for (const auto& id : stream_ids) {
      const auto s = storage::streams::find_by_id(c, id);
      if (s && s->status == storage::StreamStatus::live) live.push_back(id);
    }
    return live;
  });
}

}  // namespace souk::app
