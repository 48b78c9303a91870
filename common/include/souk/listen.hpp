// Opening a listening TCP socket the same way for every server (HTTP, RTMP).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include <string>
#include <system_error>

namespace souk {

// Opens, binds (with SO_REUSEADDR, so a restart does not wait for TIME_WAIT)
// and listens. Throws std::system_error when the address is unusable (Asio's own
// exception, boost::system::system_error, is not one: callers catch the standard
// type), and leaves the acceptor closed.
inline void listen_on(boost::asio::ip::tcp::acceptor& acceptor,
                      const boost::asio::ip::tcp::endpoint& endpoint) {
  boost::system::error_code ec;
  const char* step = "open";
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) {
    step = "set SO_REUSEADDR";
    acceptor.set_option(boost::asio::socket_base::reuse_address(true), ec);
  }
  if (!ec) {
    step = "bind";
    acceptor.bind(endpoint, ec);
  }
  if (!ec) {
    step = "listen";
    acceptor.listen(boost::asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    throw std::system_error(static_cast<std::error_code>(ec), step);
  }
}

}  // namespace souk
