// The realtime plane: a Socket.IO (protocol 5) server over Engine.IO 4, with
// HTTP long-polling and WebSocket transports, and the rooms, chat, reactions and
// viewer counting of docs/api.md. Sockets live in http_server.cpp; this class sees
// them only as RealtimeEndpoint calls and WsConnection handles.
//
// This is the facade that wires the parts, each in its file:
//   engineio_session  Engine.IO sessions, polling, WebSocket, upgrade, pings
//   events            the Socket.IO events and their rules (data via RealtimeStore)
//   rooms             membership and fan-out (RoomFanout: the multi-node seam)
//   chat_limiter      the per-user chat rate limit
//   reaction_batcher  a busy room's reactions, one reaction:new per emoji per interval
//
//   client                                   server
//   GET  /socket.io/?EIO=4&transport=polling  -> 0{"sid",...}        (open)
//   POST ...&sid=S   40{"token":"..."}        -> ok; next GET: 40{"sid":"<socket id>"}
//   42["stream:join",{...}] / 421[...]        -> events / 431[{ok:true}]
//
// Threads: event handling for one client is serialized on a strand of the
// blocking pool (the store reads and writes SQLite); broadcasts are encoded once
// and the same buffer is queued to every member; each client's queue is bounded.
#pragma once

#include "souk/api/realtime/realtime_endpoint.hpp"
#include "souk/api/realtime/realtime_options.hpp"
#include "souk/api/stream_observer.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <memory>
#include <string>
#include <vector>

namespace souk::api {

class RealtimeStore;

class Realtime final : public RealtimeEndpoint, public StreamObserver {
 public:
  // `store` must outlive the blocking pool's work (like the database it wraps).
  Realtime(boost::asio::io_context& ioc, boost::asio::thread_pool& blocking, RealtimeStore& store,
           const RealtimeOptions& options);
  ~Realtime() override;

  void start();  // the viewer-count timer
  void stop();   // closes every client

  // RealtimeEndpoint
  void polling(const HttpRequest& request, std::function<void(HttpResponse)> reply) override;
  std::shared_ptr<WsHandler> websocket(const HttpRequest& request,
                                       std::shared_ptr<WsConnection> connection) override;
  std::optional<HttpResponse> check_upgrade(const HttpRequest& request) override;

  // StreamObserver
  void stream_live(const std::string& stream_id, const std::vector<std::string>& notified) override;
  void stream_ended(const std::string& stream_id, const nlohmann::json& summary) override;
  void product_tagged(const std::string& stream_id, const nlohmann::json& tag) override;

  // Media comes and goes (from the ingest hub, through app/).
  void media_started(const std::string& stream_id);
  void media_stopped(const std::string& stream_id);

  std::size_t client_count() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace souk::api
