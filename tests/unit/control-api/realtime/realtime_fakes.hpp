// Fakes for the realtime unit tests: a socket that records what it is sent, an
// in-memory store, and a fan-out that records broadcasts. No socket, no SQL.
#pragma once

#include "souk/api/realtime/realtime_socket.hpp"
#include "souk/api/realtime/realtime_store.hpp"
#include "souk/api/realtime/rooms.hpp"
#include "souk/api/realtime/socketio_codec.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace souk::api::test {

// The Socket.IO packet inside an Engine.IO message ("4" + socket.io text).
inline socketio::Packet decode_message(const std::string& engine_text) {
  REQUIRE(engine_text.size() > 1);
  REQUIRE(engine_text[0] == '4');
  auto decoded = socketio::decode(std::string_view(engine_text).substr(1));
  REQUIRE(std::holds_alternative<socketio::Packet>(decoded));
  return std::get<socketio::Packet>(decoded);
}

class FakeSocket final : public RealtimeSocket {
 public:
  explicit FakeSocket(std::string id, std::string address = "127.0.0.1")
      : RealtimeSocket(std::move(id), std::move(address)) {}

  void deliver(std::span<const SharedText> packets) override {
    std::lock_guard lock(mutex_);
    for (const auto& p : packets) sent_.push_back(*p);
  }
  void close(const char* reason) override {
    std::lock_guard lock(mutex_);
    closed_.emplace_back(reason);
  }

  std::vector<std::string> sent() const {
    std::lock_guard lock(mutex_);
    return sent_;
  }
  std::vector<std::string> take_sent() {
    std::lock_guard lock(mutex_);
    return std::exchange(sent_, {});
  }
  std::vector<std::string> closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> sent_;
  std::vector<std::string> closed_;
};

// Records each broadcast as (room, packet text).
class RecordingFanout final : public RoomFanout {
 public:
  void broadcast(const std::string& room, const SharedText& packet) override {
    std::lock_guard lock(mutex_);
    broadcasts_.emplace_back(room, *packet);
  }
  std::vector<std::pair<std::string, std::string>> take() {
    std::lock_guard lock(mutex_);
    return std::exchange(broadcasts_, {});
  }

 private:
  std::mutex mutex_;
  std::vector<std::pair<std::string, std::string>> broadcasts_;
};

class FakeStore final : public RealtimeStore {
 public:
  std::map<Sha256, RealtimeUser> tokens;
  std::map<std::string, RealtimeStream> streams;
  std::map<std::string, std::vector<storage::ChatMessage>> chat;  // by stream, oldest first
  std::map<std::string, std::vector<storage::StreamProduct>> products;
  std::vector<ViewerSessionStart> sessions_opened;                     // session id = index + 1
  std::vector<std::pair<std::int64_t, std::int64_t>> sessions_closed;  // (session, count)
  std::vector<std::string> reactions;                                  // "stream user emoji"
  std::vector<storage::NotificationRow> notifications;
  int last_recent_chat = -1;
  // When set, every call throws it (a failing database).
  std::function<void()> fail;

  std::optional<RealtimeUser> user_for_token(const Sha256& token_hash, UnixMillis) override {
    check();
    auto it = tokens.find(token_hash);
    return it == tokens.end() ? std::nullopt : std::optional(it->second);
  }
  std::optional<RealtimeStream> find_stream(const std::string& stream_id) override {
    check();
    auto it = streams.find(stream_id);
    return it == streams.end() ? std::nullopt : std::optional(it->second);
  }
  std::optional<JoinSnapshot> join(const std::string& stream_id,
                                   const std::optional<ViewerSessionStart>& start,
                                   int recent_chat) override {
    check();
    if (!streams.contains(stream_id)) return std::nullopt;
    last_recent_chat = recent_chat;
    JoinSnapshot snapshot;
    if (start) {
      sessions_opened.push_back(*start);
      snapshot.viewer_session = static_cast<std::int64_t>(sessions_opened.size());
    }
    snapshot.products = products[stream_id];
    snapshot.recent_chat = chat[stream_id];
    return snapshot;
  }
  void leave(const std::string&, std::int64_t viewer_session, std::int64_t viewer_count,
             UnixMillis) override {
    check();
    sessions_closed.emplace_back(viewer_session, viewer_count);
  }
  bool add_chat_message(const storage::ChatMessage& message, const Admit& admit) override {
    check();
    auto it = streams.find(message.stream_id);
    if (it == streams.end()) return false;
    admit(it->second);
    chat[message.stream_id].push_back(message);
    return true;
  }
  bool add_reaction(const std::string& stream_id, const std::string& user_id,
                    const std::string& emoji, UnixMillis, const Admit& admit) override {
    check();
    auto it = streams.find(stream_id);
    if (it == streams.end()) return false;
    admit(it->second);
    reactions.push_back(stream_id + " " + user_id + " " + emoji);
    return true;
  }
  std::vector<storage::NotificationRow> stream_notifications(const std::string&) override {
    check();
    return notifications;
  }
  std::vector<std::string> live_streams(const std::vector<std::string>& stream_ids) override {
    check();
    std::vector<std::string> live;
    for (const auto& id : stream_ids) {
      if (auto it = streams.find(id); it != streams.end() && it->second.status == souk::storage::StreamStatus::live)
        live.push_back(id);
    }
    return live;
  }

 private:
  void check() const {
    if (fail) fail();
  }
};

}  // namespace souk::api::test
