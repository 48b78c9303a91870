// The RTMP server: the shared listener (souk/listener.hpp) accepting onto one
// RtmpSession per connection (rtmp_session.cpp), at most max_connections at once.
#include "souk/ingest/rtmp_server.hpp"

#include "rtmp_session.hpp"

#include "souk/listener.hpp"

namespace souk::ingest {

namespace net = boost::asio;
using tcp = net::ip::tcp;

struct RtmpServer::State {
  std::shared_ptr<Listener> listener;
};

RtmpServer::RtmpServer(net::io_context& ioc, RtmpOptions options, StreamHub& hub,
                       PublishAuthorizer& authorizer, EventLoops* loops)
    : state_(std::make_shared<State>()) {
  ListenerOptions listener_options{
      .name = "rtmp", .max_connections = options.max_connections, .max_per_address = options.max_per_address};
  // A trusted proxy (PROXY protocol) carries many publishers on its address.
  listener_options.uncapped_address = [proxies = options.trusted_proxies](const net::ip::address& a) {
    return proxies.contains(a);
  };
  auto context = std::make_shared<const RtmpSessionContext>(
      RtmpSessionContext{std::move(options), hub, authorizer});
  state_->listener = std::make_shared<Listener>(
      ioc, std::move(listener_options),
      [context = std::move(context)](tcp::socket&& socket) {
        boost::system::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);  // replies go out whole, not after Nagle's 40 ms
        return make_rtmp_session(std::move(socket), context);
      },
      loops);
}

RtmpServer::~RtmpServer() = default;

void RtmpServer::listen(const tcp::endpoint& endpoint) { state_->listener->listen(endpoint); }

tcp::endpoint RtmpServer::local_endpoint() const { return state_->listener->local_endpoint(); }

void RtmpServer::shutdown() { state_->listener->shutdown(); }

std::size_t RtmpServer::connection_count() const { return state_->listener->connection_count(); }

}  // namespace souk::ingest
