// What the Socket.IO events read and write, declared here by their consumer
// (events.cpp) and implemented in app/ over storage/. Each call is one
// transaction; it may throw (storage::SqliteError and the like), and the events
// turn that into an error for the client. Calls come from the blocking pool.
#pragma once

#include "souk/random.hpp"
#include "souk/storage/engagement.hpp"
#include "souk/storage/stream_products.hpp"
#include "souk/storage/streams.hpp"
#include "souk/time.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace souk::api {

// A signed-in socket's user, as chat messages and reactions carry them.
struct RealtimeUser {
  std::string id;
  std::string username;
  std::optional<std::string> avatar_url;
};

// What the events need of a stream.
struct RealtimeStream {
  std::string id;
  std::string seller_id;
  storage::StreamStatus status = storage::StreamStatus::scheduled;
  bool chat_enabled = true;
};

// A viewer session to open when a socket joins a room it was not in.
struct ViewerSessionStart {
  std::string socket_id;
  std::optional<std::string> user_id;  // anonymous viewers have none
  std::string viewer_key;              // the user id, or the socket id when anonymous
  UnixMillis joined_at = 0;
  std::int64_t viewer_count = 0;  // the room's size with this viewer, recorded with it
};

// What a joining socket is told about the stream.
struct JoinSnapshot {
  std::optional<std::int64_t> viewer_session;  // the session opened, if one was asked for
  std::vector<storage::StreamProduct> products;
  std::vector<storage::ChatMessage> recent_chat;  // oldest first
};

class RealtimeStore {
 public:
  virtual ~RealtimeStore() = default;

  // The user of a token (by its SHA-256) that is live at `now`, of an enabled account.
  virtual std::optional<RealtimeUser> user_for_token(const Sha256& token_hash, UnixMillis now) = 0;

  virtual std::optional<RealtimeStream> find_stream(const std::string& stream_id) = 0;

  // One transaction: the stream (nullopt: there is none, nothing is written);
  // the viewer session `start` asks for, opened and its count recorded; the
  // stream's products and its last `recent_chat` chat messages.
  virtual std::optional<JoinSnapshot> join(const std::string& stream_id,
                                           const std::optional<ViewerSessionStart>& start,
                                           int recent_chat) = 0;

  // Closes a viewer session and records the room's new size.
  virtual void leave(const std::string& stream_id, std::int64_t viewer_session,
                     std::int64_t viewer_count, UnixMillis left_at) = 0;

  // Lets `admit` judge the stream (it refuses by throwing: nothing is written),
  // then stores the message or reaction; one transaction, so the stream cannot
  // end or turn chat off between the check and the write. False: no such stream.
  using Admit = std::function<void(const RealtimeStream&)>;
  virtual bool add_chat_message(const storage::ChatMessage& message, const Admit& admit) = 0;
  virtual bool add_reaction(const std::string& stream_id, const std::string& user_id,
                            const std::string& emoji, UnixMillis at, const Admit& admit) = 0;

  // The stream_live notifications made for a stream (one per user notified).
  virtual std::vector<storage::NotificationRow> stream_notifications(
      const std::string& stream_id) = 0;

  // Those of `stream_ids` that are live, in one snapshot.
  virtual std::vector<std::string> live_streams(const std::vector<std::string>& stream_ids) = 0;
};

}  // namespace souk::api
