// The RTMP session (rtmp_session.cpp), seen from the server that starts it.
// Private to ingest/src/.
#pragma once

#include "souk/ingest/rtmp_server.hpp"
#include "souk/listener.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <memory>

namespace souk::ingest {

// What every session of one server shares.
struct RtmpSessionContext {
  RtmpOptions options;
  StreamHub& hub;
  PublishAuthorizer& authorizer;
};

std::shared_ptr<Connection> make_rtmp_session(boost::asio::ip::tcp::socket&& socket,
                                              std::shared_ptr<const RtmpSessionContext> context);

}  // namespace souk::ingest
