// The Engine.IO 4 transport: sessions (one socket each), long-polling, the
// WebSocket transport and the upgrade to it, and heartbeats. It hands the
// Socket.IO packets a session carries to a SocketHandler, one at a time on the
// session's strand, and delivers what the layers above send.
//
//   GET  /socket.io/?EIO=4&transport=polling  -> 0{"sid",...}        (open)
//   POST ...&sid=S   40{...}                  -> ok; the packets go to the handler
//   GET  ...&sid=S                            -> what was sent meanwhile, or waits
//   WS   ...&transport=websocket&sid=S  2probe -> 3probe; 5 (upgrade): polling ends
//   every pingInterval: server 2 -> client 3 within pingTimeout, else closed
#pragma once

#include "souk/api/realtime/engineio_codec.hpp"
#include "souk/api/realtime/realtime_endpoint.hpp"
#include "souk/api/realtime/realtime_options.hpp"
#include "souk/api/realtime/realtime_socket.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace souk::metrics {
class Gauge;
}

namespace souk::api {

class EngineIoServer;

// One Engine.IO session and the Socket.IO socket it carries.
class EngineIoClient final : public RealtimeSocket,
                             public std::enable_shared_from_this<EngineIoClient> {
 public:
  EngineIoClient(EngineIoServer& server, std::string engine_sid, std::string address,
                 boost::asio::io_context& ioc, boost::asio::thread_pool& blocking);

  // RealtimeSocket
  void deliver(std::span<const SharedText> packets) override;
  void close(const char* reason) override;

  const std::string sid;  // Engine.IO session id
  // This client's Socket.IO packets, handled in order, off the network threads.
  boost::asio::strand<boost::asio::thread_pool::executor_type> work;
  boost::asio::steady_timer timer;  // heartbeat; used only on its own strand

  // Transport state, under `mutex`.
  std::mutex mutex;
  bool closed = false;
  bool upgrading = false;  // a WebSocket probe succeeded; polls end with noop until the upgrade
  bool upgraded = false;   // websocket is the transport
  bool probed = false;     // a WebSocket came to upgrade the session: no second one may
  std::shared_ptr<WsConnection> ws;
  std::deque<SharedText> queue;  // for polling
  std::size_t queued_bytes = 0;  // of `queue`
  std::function<void(HttpResponse)> pending_poll;
  bool awaiting_pong = false;

  std::atomic<int> backlog{0};  // Socket.IO packets posted to `work`, not yet handled

 private:
  // Every caller of deliver and close runs on behalf of the server (its
  // timers, handlers, and the rooms and events it keeps alive), so the server
  // outlives them.
  EngineIoServer& server_;
};

class EngineIoServer : public std::enable_shared_from_this<EngineIoServer> {
 public:
  EngineIoServer(boost::asio::io_context& ioc, boost::asio::thread_pool& blocking,
                 const RealtimeOptions& options, std::shared_ptr<SocketHandler> handler);

  // As RealtimeEndpoint's (the HTTP server's calls, through Realtime).
  void polling(const HttpRequest& request, std::function<void(HttpResponse)> reply);
  std::shared_ptr<WsHandler> websocket(const HttpRequest& request,
                                       std::shared_ptr<WsConnection> connection);
  std::optional<HttpResponse> check_upgrade(const HttpRequest& request) const;

  // Queues packets to a client: on its WebSocket, or for its next poll (which
  // a poll waiting takes at once). A client that does not keep up is closed.
  void send(EngineIoClient& c, std::span<const SharedText> packets);
  void send(EngineIoClient& c, const SharedText& packet) {
    send(c, std::span<const SharedText>(&packet, 1));
  }
  void close(const std::shared_ptr<EngineIoClient>& c, const char* reason);

  std::vector<std::shared_ptr<RealtimeSocket>> sockets() const;  // every open session's
  std::size_t client_count() const;
  void stop();  // closes every client; no new one opens

 private:
  friend class EngineWsHandler;

  // Why a new session may not open now (nullptr: it may): the caps on
  // sessions, in all and per address. mutex_ held.
  const char* refuse_new_session(const std::string& address) const;
  HttpResponse session_refusal(const char* why) const;
  // A new session, or nullptr with `refusal` set to why not.
  std::shared_ptr<EngineIoClient> create_client(bool websocket, const std::string& address,
                                                const char*& refusal);
  std::shared_ptr<EngineIoClient> find(const std::string& sid) const;
  void schedule_ping(const std::shared_ptr<EngineIoClient>& c);
  // Returns false when the packet is a protocol violation (the caller closes).
  bool on_engine_packet(const std::shared_ptr<EngineIoClient>& c, const engineio::Packet& p);
  HttpResponse text_response(int status, std::string body,
                             const char* content_type = "text/plain; charset=UTF-8") const;
  HttpResponse poll_response(const std::vector<SharedText>& packets) const;
  HttpResponse engine_error(int code, const char* message) const;

  boost::asio::io_context& ioc_;
  boost::asio::thread_pool& blocking_;
  const RealtimeOptions options_;
  std::shared_ptr<SocketHandler> handler_;
  metrics::Gauge& polling_sessions_;  // sessions open, by transport
  metrics::Gauge& websocket_sessions_;

  mutable std::mutex mutex_;                                                  // clients_, stopped_
  std::unordered_map<std::string, std::shared_ptr<EngineIoClient>> clients_;  // by sid
  std::unordered_map<std::string, std::size_t> per_address_;  // sessions open, by client address
  bool stopped_ = false;
};

}  // namespace souk::api
