// The realtime plane: a Socket.IO (protocol 5) server over Engine.IO 4, with
// HTTP long-polling and WebSocket transports, and the rooms, chat, reactions and
// viewer counting of API.md. Sockets live in http_server.cpp; this class sees
// them only as RealtimeEndpoint calls and WsConnection handles.
//
//   client                                   server
//   GET  /socket.io/?EIO=4&transport=polling  -> 0{"sid",...}        (open)
//   POST ...&sid=S   40{"token":"..."}        -> ok; next GET: 40{"sid":"<socket id>"}
//   WS   ...&transport=websocket&sid=S  2probe -> 3probe; 5 (upgrade): polling ends
//   42["stream:join",{...}] / 421[...]        -> events / 431[{ok:true}]
//   every pingInterval: server 2 -> client 3 within pingTimeout, else closed
//
// Threads: event handling for one client is serialized on a strand of the
// blocking pool (it reads and writes SQLite); broadcasts are encoded once and the
// same buffer is queued to every member; each client's queue is bounded.
#pragma once

#include "souk/api/realtime/realtime_endpoint.hpp"
#include "souk/api/stream_observer.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace souk::storage {
class Database;
}

namespace souk::api {

struct RealtimeOptions {
  std::chrono::milliseconds ping_interval{25000};
  std::chrono::milliseconds ping_timeout{20000};
  std::size_t max_payload = 1000000;
  std::size_t max_queue = 1024;  // packets waiting for a polling client
  std::chrono::milliseconds viewer_count_interval{10000};
  std::vector<std::string> cors_origins{"*"};
  double estimated_latency_seconds = 6;  // what stream:ready announces
  int chat_per_minute = 10;
};

class RealtimeClient;

class Realtime final : public RealtimeEndpoint, public StreamObserver {
 public:
  Realtime(boost::asio::io_context& ioc, boost::asio::thread_pool& blocking, storage::Database& db,
           RealtimeOptions options);
  ~Realtime() override;

  void start();  // the viewer-count timer
  void stop();   // closes every client

  // RealtimeEndpoint
  void polling(const HttpRequest& request, std::function<void(HttpResponse)> reply) override;
  std::shared_ptr<WsHandler> websocket(const HttpRequest& request,
                                       std::shared_ptr<WsConnection> connection) override;

  // StreamObserver
  void stream_live(const std::string& stream_id, const std::vector<std::string>& notified) override;
  void stream_ended(const std::string& stream_id, const nlohmann::json& summary) override;
  void product_tagged(const std::string& stream_id, const nlohmann::json& tag) override;

  // Media comes and goes (from the ingest hub, through app/).
  void media_started(const std::string& stream_id);
  void media_stopped(const std::string& stream_id);

  std::size_t client_count() const;

  // For RealtimeClient.
  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace souk::api
