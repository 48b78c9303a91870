// Opening a listening TCP socket the same way for every server (HTTP, RTMP).
#pragma once

#include <boost/asio/ip/tcp.hpp>

namespace souk {

// Opens, binds (with SO_REUSEADDR, so a restart does not wait for TIME_WAIT)
// and listens. Throws std::system_error when the address is unusable.
inline void listen_on(boost::asio::ip::tcp::acceptor& acceptor,
                      const boost::asio::ip::tcp::endpoint& endpoint) {
  acceptor.open(endpoint.protocol());
  acceptor.set_option(boost::asio::socket_base::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(boost::asio::socket_base::max_listen_connections);
}

}  // namespace souk
