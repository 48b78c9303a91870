// The HTTP/1.1 session (http_session.cpp), seen from the server that starts it.
// Private to src/http/, and free of Beast: http_server.cpp includes only this.
#pragma once

#include "souk/api/http/http_server.hpp"
#include "souk/listener.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>

#include <memory>

namespace souk::api {

// What every session of one server shares, set up before it listens.
struct HttpSessionContext {
  boost::asio::thread_pool& blocking;
  HttpServerOptions options;
  HttpServer::Handler handler;
  HttpServer::FastHandler fast;
  RealtimeEndpoint* realtime = nullptr;
};

std::shared_ptr<Connection> make_http_session(boost::asio::ip::tcp::socket&& socket,
                                              std::shared_ptr<const HttpSessionContext> context);

}  // namespace souk::api
