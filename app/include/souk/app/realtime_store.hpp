// The realtime events' data access (api::RealtimeStore) over the SQLite
// database: each call one transaction of storage/'s repositories.
#pragma once

#include "souk/api/realtime/realtime_store.hpp"

namespace souk::storage {
class Database;
}

namespace souk::app {

class DatabaseRealtimeStore final : public api::RealtimeStore {
 public:
  explicit DatabaseRealtimeStore(storage::Database& db) : db_(db) {}

  std::optional<api::RealtimeUser> user_for_token(const Sha256& token_hash,
                                                  UnixMillis now) override;
  std::optional<api::RealtimeStream> find_stream(const std::string& stream_id) override;
  std::optional<api::JoinSnapshot> join(const std::string& stream_id,
                                        const std::optional<api::ViewerSessionStart>& start,
                                        int recent_chat) override;
  void leave(const std::string& stream_id, std::int64_t viewer_session, std::int64_t viewer_count,
             UnixMillis left_at) override;
  bool add_chat_message(const storage::ChatMessage& message, const Admit& admit) override;
  bool add_reaction(const std::string& stream_id, const std::string& user_id,
                    const std::string& emoji, UnixMillis at, const Admit& admit) override;
  std::vector<storage::NotificationRow> stream_notifications(const std::string& stream_id) override;
  std::vector<std::string> live_streams(const std::vector<std::string>& stream_ids) override;

 private:
  storage::Database& db_;
};

}  // namespace souk::app
