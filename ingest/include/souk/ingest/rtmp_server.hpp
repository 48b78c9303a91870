// The RTMP server: accepts publishers (the common listener, rtmp_server.cpp) and
// runs one RtmpSession per connection (rtmp_session.cpp), each on an event loop
// of its own thread (souk/event_loops.hpp) or on a strand of the io_context.
// Sockets live only there.
#pragma once

#include "souk/ingest/chunk_stream.hpp"
#include "souk/trusted_proxies.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace souk {
class EventLoops;
}

namespace souk::ingest {

class PublishAuthorizer;
class StreamHub;

struct RtmpOptions {
  std::string app = "live";  // the application name publishers connect to
  std::size_t max_connections = 1000;
  // Connections open at once from one address (the TCP peer, a proxy's own
  // address behind one); more are closed at accept.
  std::size_t max_per_address = 16;
  ChunkLimits chunk_limits;
  // Until a publish is accepted, a connection has shown no key: its messages may
  // be no longer than this (commands are a few hundred bytes; OBS and ffmpeg send
  // media and metadata only after NetStream.Publish.Start).
  std::uint32_t max_message_size_before_publish = 64 * 1024;
  // onMetaData larger than this is ignored, not decoded (real ones are < 1 KiB).
  std::size_t max_metadata_bytes = std::size_t{64} * 1024;
  // From accept to an accepted publish; a connection that has not published by
  // then is closed, so silent connections cannot hold the slots.
  std::chrono::seconds publish_deadline{10};
  std::uint32_t out_chunk_size = 60000;  // what the server announces and sends with
  std::uint32_t window_ack_size = 2500000;
  std::chrono::seconds handshake_timeout{10};
  std::chrono::seconds idle_timeout{30};  // no media for this long closes the connection
  // Peers that may send a PROXY protocol header (v1 or v2) naming the publisher.
  TrustedProxies trusted_proxies;
};

class RtmpServer {
 public:
  // Accepts on `ioc`; sessions run on `loops` when given (they must outlive the
  // sessions), else each on a strand of `ioc`.
  RtmpServer(boost::asio::io_context& ioc, RtmpOptions options, StreamHub& hub,
             PublishAuthorizer& authorizer, EventLoops* loops = nullptr);
  ~RtmpServer();

  // Binds and starts accepting; throws std::system_error if the address is unusable.
  void listen(const boost::asio::ip::tcp::endpoint& endpoint);
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  // Stops accepting and closes every connection. Thread-safe.
  void shutdown();
  std::size_t connection_count() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace souk::ingest
