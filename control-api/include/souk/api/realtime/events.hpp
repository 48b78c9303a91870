// The Socket.IO events of docs/api.md: CONNECT (with an optional token), stream:join,
// stream:leave, stream:chat, stream:reaction, stream:prepare, their acks and
// errors, and what the server announces (viewer counts, notifications). No
// socket, no SQL: sockets come as RealtimeSocket, data through RealtimeStore,
// rooms through Rooms (membership) and RoomFanout (delivery).
#pragma once

#include "souk/api/realtime/chat_limiter.hpp"
#include "souk/api/realtime/reaction_batcher.hpp"
#include "souk/api/realtime/realtime_options.hpp"
#include "souk/api/realtime/realtime_socket.hpp"
#include "souk/api/realtime/realtime_store.hpp"
#include "souk/api/realtime/rooms.hpp"
#include "souk/rate_limiter.hpp"
#include "souk/refusals.hpp"

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <optional>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace souk::metrics {
class Counter;
}

namespace souk::api {

class RealtimeEvents final : public SocketHandler {
 public:
  // `rooms` keeps membership; `fanout` delivers (the same object in one process).
  // The store must outlive every call.
  RealtimeEvents(RealtimeStore& store, std::shared_ptr<Rooms> rooms,
                 std::shared_ptr<RoomFanout> fanout, const RealtimeOptions& options);

  // SocketHandler
  void on_packet(const std::shared_ptr<RealtimeSocket>& socket, const std::string& text) override;
  void on_closed(const std::shared_ptr<RealtimeSocket>& socket) override;  // leaves every room

  // notification:new to each open socket of a user the stream's going live
  // notified (from the blocking pool).
  using OpenSockets = std::function<std::vector<std::shared_ptr<RealtimeSocket>>()>;
  void notify_stream_live(const std::string& stream_id, const OpenSockets& open_sockets);

  // stream:viewer-count to each live stream's room (from the blocking pool).
  void send_viewer_counts();

  // Reactions that waited for their room's interval to end go out, one
  // reaction:new per emoji with its count. Returns when to call again (nullopt:
  // nothing waits; the next reaction asks, through the scheduler).
  std::optional<ReactionBatcher::Clock::time_point> flush_reactions(
      ReactionBatcher::Clock::time_point now = ReactionBatcher::Clock::now());
  // Called (from any thread) when a reaction waits and no flush is due: the
  // caller arranges flush_reactions() after `delay`. Unset (unit tests): the
  // caller flushes by hand.
  using FlushScheduler = std::function<void(std::chrono::milliseconds delay)>;
  void set_reaction_flush_scheduler(FlushScheduler scheduler) {
    schedule_flush_ = std::move(scheduler);
  }

 private:
  nlohmann::json on_event(const std::shared_ptr<RealtimeSocket>& s, const std::string& name,
                          const nlohmann::json& payload);
  // Throws EventError when the socket's token has been revoked since it was
  // last checked (then the socket closes after the answer).
  void recheck_token(RealtimeSocket& s);
  void on_connect(const std::shared_ptr<RealtimeSocket>& s, const std::string& nsp,
                  const nlohmann::json& auth);
  nlohmann::json join(const std::shared_ptr<RealtimeSocket>& s, const std::string& stream_id);
  nlohmann::json leave(const std::shared_ptr<RealtimeSocket>& s, const std::string& stream_id,
                       bool asked);
  void leave_all(const std::shared_ptr<RealtimeSocket>& s);
  nlohmann::json chat(const std::shared_ptr<RealtimeSocket>& s, const std::string& stream_id,
                      const nlohmann::json& payload);
  nlohmann::json react(const std::shared_ptr<RealtimeSocket>& s, const std::string& stream_id,
                       const nlohmann::json& payload);
  nlohmann::json prepare(const std::shared_ptr<RealtimeSocket>& s, const std::string& stream_id);
  void log_failure(const std::string& event, const char* what);

  RealtimeStore& store_;
  std::shared_ptr<Rooms> rooms_;
  std::shared_ptr<RoomFanout> fanout_;
  const RealtimeOptions options_;
  ChatLimiter chat_limiter_;
  RateLimiter reaction_limiter_;     // by user id
  RateLimiter join_limiter_;         // by socket id
  RateLimiter address_join_limiter_;  // by client address
  ReactionBatcher reaction_batcher_;
  FlushScheduler schedule_flush_;
  LogThrottle failure_log_;  // "realtime event failed": a full disk fails every event
  metrics::Counter& chat_messages_;  // chat messages stored and broadcast
  metrics::Counter& reactions_;      // reactions stored and broadcast
};

}  // namespace souk::api
