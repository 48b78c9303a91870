// What the HTTP server hands to the realtime plane (Engine.IO at /socket.io/):
// long-polling requests, answered whenever there is something to send, and
// WebSocket connections, after the HTTP server accepted the upgrade.
#pragma once

#include "souk/api/http/http_types.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

namespace souk::api {

// The server side of one accepted WebSocket, as the realtime plane drives it.
class WsConnection {
 public:
  virtual ~WsConnection() = default;
  using Text = std::shared_ptr<const std::string>;
  // Sends text messages, in order, or queues what the socket does not take at
  // once (thread-safe). False if the connection is closed or its queue is full
  // (then it is being closed: a reader that stopped reading).
  virtual bool send(std::span<const Text> texts) = 0;
  bool send(const Text& text) { return send(std::span<const Text>(&text, 1)); }
  virtual void close() = 0;  // thread-safe
};

// What the realtime plane does with messages arriving on a WebSocket.
class WsHandler {
 public:
  virtual ~WsHandler() = default;
  virtual void on_message(std::string text) = 0;
  virtual void on_close() = 0;
};

class RealtimeEndpoint {
 public:
  virtual ~RealtimeEndpoint() = default;
  // A long-polling GET or POST; `reply` is called once, later, from any thread.
  virtual void polling(const HttpRequest& request, std::function<void(HttpResponse)> reply) = 0;
  // A WebSocket upgrade, before it is accepted: an HTTP response refusing it
  // (403 for an Origin --cors-origins does not list, 429 or 503 past the
  // session caps), or nullopt to go on.
  virtual std::optional<HttpResponse> check_upgrade(const HttpRequest& request) = 0;
  // A WebSocket was accepted for this request (its query names the session, if
  // any). Returns the handler for its messages, or nullptr to close it.
  virtual std::shared_ptr<WsHandler> websocket(const HttpRequest& request,
                                               std::shared_ptr<WsConnection> connection) = 0;
};

}  // namespace souk::api
