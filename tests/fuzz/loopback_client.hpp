// For the session fuzz targets: one client connection over loopback TCP to a
// server running on the caller's io_context. It writes the input, half-closes
// (once `ready` says the replies it waits for have come, or at once), reads
// until the server closes, and runs the io_context until the server's session
// is gone, all within a bound: a session that outlives it is a hang, and traps.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace souk_fuzz {

// The bound on how long a session may take to end once its client has said all
// it will (SOUK_TEST_TIME_SCALE stretches it on slow machines, as in the tests).
inline std::chrono::milliseconds session_bound() {
  static const double scale = [] {
    const char* s = std::getenv("SOUK_TEST_TIME_SCALE");
    const double v = s ? std::atof(s) : 1.0;
    return v >= 1.0 ? v : 1.0;
  }();
  return std::chrono::milliseconds(static_cast<long long>(10'000 * scale));
}

// The targets' servers live to the end of the process, as the server's do. The
// server joins its blocking pool before it returns from main; a target must too,
// or work still queued there (an Engine.IO packet, a request) runs while exit()
// destroys the logger and the metrics under it. Call once, after souk::log::init,
// so this runs before the logger's own destructor.
inline void join_at_exit(boost::asio::thread_pool& pool) {
  static boost::asio::thread_pool* joined = nullptr;
  if (joined != nullptr) std::abort();  // one pool per process
  joined = &pool;
  std::atexit([] {
    joined->stop();
    joined->join();
  });
}

struct Exchange {
  std::vector<std::uint8_t> received;  // everything the server sent, in order
  bool reset = false;                  // the server's end came as a reset, not a FIN
};

// `ready(received)`: true once the client may half-close (it has the replies a
// valid input must get). `sessions()`: the server's open connections.
inline Exchange exchange(boost::asio::io_context& ioc, const boost::asio::ip::tcp::endpoint& server,
                         std::span<const std::uint8_t> input,
                         const std::function<bool(const std::vector<std::uint8_t>&)>& ready,
                         const std::function<std::size_t()>& sessions) {
  namespace net = boost::asio;
  using error_code = boost::system::error_code;
  Exchange out;
  net::ip::tcp::socket client(ioc);
  client.connect(server);  // loopback: the backlog takes it before the accept runs

  bool written = false;
  bool half_closed = false;
  bool ended = false;
  const auto maybe_half_close = [&] {
    if (half_closed || !written || ended || (ready && !ready(out.received))) return;
    half_closed = true;
    error_code ignored;
    client.shutdown(net::ip::tcp::socket::shutdown_send, ignored);
  };
  net::async_write(client, net::buffer(input.data(), input.size()), [&](error_code ec, std::size_t) {
    written = true;
    if (ec) {
      half_closed = true;  // the server stopped reading: it is closing
      return;
    }
    maybe_half_close();
  });
  std::vector<std::uint8_t> chunk(64 * 1024);
  std::function<void()> read = [&] {
    client.async_read_some(net::buffer(chunk), [&](error_code ec, std::size_t n) {
      out.received.insert(out.received.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
      if (ec) {
        ended = true;
        out.reset = ec != net::error::eof;
        return;
      }
      maybe_half_close();
      read();
    });
  };
  read();

  const auto deadline = std::chrono::steady_clock::now() + session_bound();
  while (!(ended && written && sessions() == 0)) {
    if (std::chrono::steady_clock::now() > deadline) __builtin_trap();  // a session that never ends
    if (ioc.stopped()) ioc.restart();
    ioc.run_one_for(std::chrono::milliseconds(10));
  }
  ioc.restart();
  return out;
}

}  // namespace souk_fuzz
