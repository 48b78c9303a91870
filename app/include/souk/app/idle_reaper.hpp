// Ends live streams whose publisher has been gone (or never came) for longer
// than the idle timeout, and those an operator asked to end with
// `souk-live stream end` (it marks them in the database): a timer that asks
// StreamLifecycle, which ends them exactly as POST /end would.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>

namespace souk::api {
class StreamLifecycle;
}

namespace souk::app {

class IdleReaper {
 public:
  IdleReaper(boost::asio::io_context& ioc, boost::asio::thread_pool& blocking,
             api::StreamLifecycle& lifecycle, std::chrono::seconds timeout);
  void start();
  void stop();

 private:
  void schedule();
  void sweep();  // on the blocking pool

  boost::asio::thread_pool& blocking_;
  api::StreamLifecycle& lifecycle_;
  std::chrono::seconds timeout_;
  boost::asio::steady_timer timer_;
};

}  // namespace souk::app
