// The HTTP server: the shared listener (souk/listener.hpp) accepting onto one
// HttpSession per connection (http_session.cpp). No Beast here.
#include "souk/api/http/http_server.hpp"

#include "http_session.hpp"

#include "souk/listener.hpp"

namespace souk::api {

namespace net = boost::asio;
using tcp = net::ip::tcp;

struct HttpServer::State {
  // Shared with every session; complete once listen() is called.
  std::shared_ptr<HttpSessionContext> context;
  std::shared_ptr<Listener> listener;
};

HttpServer::HttpServer(net::io_context& ioc, net::thread_pool& blocking, HttpServerOptions options,
                       Handler handler)
    : state_(std::make_shared<State>()) {
  state_->context = std::make_shared<HttpSessionContext>(
      HttpSessionContext{blocking, std::move(options), std::move(handler), {}, nullptr});
  // Idle connections time out (request_timeout); the caps keep one client, or
  // a flood, from holding every descriptor meanwhile.
  const auto& o = state_->context->options;
  ListenerOptions listener_options{.name = "http", .max_connections = o.max_connections,
                                   .max_per_address = o.max_per_address};
  listener_options.uncapped_address = [proxies = o.trusted_proxies](const net::ip::address& a) {
    return proxies.contains(a);
  };
  state_->listener = std::make_shared<Listener>(
      ioc, std::move(listener_options),
      [context = std::shared_ptr<const HttpSessionContext>(state_->context)](tcp::socket&& socket) {
        return make_http_session(std::move(socket), context);
      });
}

HttpServer::~HttpServer() = default;

void HttpServer::set_realtime(RealtimeEndpoint* endpoint) { state_->context->realtime = endpoint; }

void HttpServer::set_fast_handler(FastHandler handler) { state_->context->fast = std::move(handler); }

void HttpServer::listen(const tcp::endpoint& endpoint) { state_->listener->listen(endpoint); }

tcp::endpoint HttpServer::local_endpoint() const { return state_->listener->local_endpoint(); }

void HttpServer::shutdown() { state_->listener->shutdown(); }

std::size_t HttpServer::connection_count() const { return state_->listener->connection_count(); }

}  // namespace souk::api
