// The WebSocket session a Socket.IO upgrade becomes (ws_session.cpp). Private to
// src/http/: it names Beast's request type.
#pragma once

#include "souk/api/http/http_types.hpp"
#include "souk/api/realtime/realtime_endpoint.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstddef>
#include <string>

namespace souk::api {

struct WsLimits {
  std::size_t max_message_bytes = 0;  // a longer message read ends the connection
  std::size_t max_queue = 0;          // messages waiting for a slow reader before it is dropped
  std::size_t max_queue_bytes = 0;    // their bytes, likewise
};

// Takes over an upgraded connection's socket: answers the upgrade, then hands
// messages to the realtime endpoint's handler. The session keeps itself alive.
void start_ws_session(boost::asio::ip::tcp::socket&& socket,
                      const boost::beast::http::request<boost::beast::http::string_body>& upgrade,
                      HttpRequest request, RealtimeEndpoint& realtime, WsLimits limits,
                      std::string remote);

}  // namespace souk::api
