// Ends live streams whose publisher has been gone (or never came) for longer
// than the idle timeout, and those an operator asked to end with
// `souk-live stream end` (it marks them in the database), exactly as POST /end would.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <memory>

namespace souk::api {
class Api;
}
namespace souk::storage {
class Database;
}

namespace souk::app {

class IdleReaper {
 public:
  IdleReaper(boost::asio::io_context& ioc, boost::asio::thread_pool& blocking, storage::Database& db,
             api::Api& api, std::chrono::seconds timeout);
  void start();
  void stop();
  // Ends the streams operators asked to end. Blocking: start-up calls it for
  // requests made while the server was down; the sweep, for the others.
  void end_requested();

 private:
  void schedule();
  void sweep();  // on the blocking pool

  boost::asio::thread_pool& blocking_;
  storage::Database& db_;
  api::Api& api_;
  std::chrono::seconds timeout_;
  boost::asio::steady_timer timer_;
};

}  // namespace souk::app
