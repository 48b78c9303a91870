// The HTTP/1.1 server: accepts connections on the shared io_context (the common
// listener), reads requests (keep-alive, body limit, timeouts), hands each to a
// handler on the blocking-work pool (or, for hot HLS files, answers on the network
// thread), writes the response back on the connection's strand, and logs one
// access line per request. Beast stays in src/http/ (http_session.cpp,
// ws_session.cpp, response_head.cpp), out of this header.
#pragma once

#include "souk/api/http/http_metrics.hpp"
#include "souk/api/http/http_types.hpp"
#include "souk/api/realtime/realtime_endpoint.hpp"
#include "souk/trusted_proxies.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>

namespace souk::api {

struct HttpServerOptions {
  std::size_t max_body_bytes = std::size_t{1024} * 1024;
  std::size_t max_header_bytes = std::size_t{16} * 1024;
  std::chrono::seconds request_timeout{30};  // to read one request, idle time included
  std::size_t max_ws_message_bytes = 1000000;  // Engine.IO's maxPayload
  std::size_t max_ws_queue = 1024;             // messages waiting for a slow WebSocket reader
  std::size_t max_ws_queue_bytes = std::size_t{4} * 1024 * 1024;  // their bytes, likewise
  HttpMetrics* metrics = nullptr;  // counts each response by its route template, when set
  // Peers whose X-Forwarded-For names the client (HttpRequest::remote, the access log).
  TrustedProxies trusted_proxies;
  // Connections open at once, in all and from one address (trusted proxies are
  // not capped per address); one more is closed as soon as it is accepted.
  std::size_t max_connections = 20000;
  std::size_t max_per_address = 2000;
};

class HttpServer {
 public:
  // Runs on a blocking-work thread; must not throw.
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  // Runs on a network thread for GET and HEAD under /hls/, before the handler:
  // answers from memory or returns nullopt (then the handler gets the request).
  // Must not block or throw.
  using FastHandler = std::function<std::optional<HttpResponse>(const HttpRequest&)>;

  HttpServer(boost::asio::io_context& ioc, boost::asio::thread_pool& blocking,
             HttpServerOptions options, Handler handler);
  ~HttpServer();

  // Requests under /socket.io/ go here instead of the handler: long-polling
  // asynchronously, and WebSocket upgrades. Set before listen().
  void set_realtime(RealtimeEndpoint* endpoint);
  // Set before listen().
  void set_fast_handler(FastHandler handler);

  // Binds and starts accepting; throws std::system_error if the address is unusable.
  void listen(const boost::asio::ip::tcp::endpoint& endpoint);
  boost::asio::ip::tcp::endpoint local_endpoint() const;

  // Stops accepting, closes idle connections, and lets requests in flight finish
  // (their connections close after the response). Thread-safe.
  void shutdown();

  // Connections still open.
  std::size_t connection_count() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace souk::api
