// Ends live streams whose publisher has been gone (or never came) for longer
// than the idle timeout, and those an operator asked to end with
// `souk-live stream end` (it marks them in the database), exactly as POST /end would.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace souk::api {
class Api;
}
namespace souk::storage {
class Connection;
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
  // Ends each live stream `which` names with `reason`; logs `failure` if the
  // query fails.
  void end_each(const std::function<std::vector<std::string>(storage::Connection&)>& which,
                const char* reason, const char* failure);

  boost::asio::thread_pool& blocking_;
  storage::Database& db_;
  api::Api& api_;
  std::chrono::seconds timeout_;
  boost::asio::steady_timer timer_;
};

}  // namespace souk::app
