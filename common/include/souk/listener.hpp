// One TCP listener for every server (HTTP, RTMP): accepts each connection onto a
// strand of its own (or onto one of several single-threaded event loops), keeps a weak registry of the connections (to count them and
// to stop them at shutdown), caps how many are open in all and from one address,
// and pauses after an accept error (out of descriptors) instead of accepting
// again in a busy loop. Asio only.
#pragma once

#include "souk/refusals.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace souk {

class EventLoops;
class Listener;

// A connection a Listener accepted: a session that owns its socket. It counts as
// open from its registration until its destructor runs, which leaves the registry.
class Connection {
 public:
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  virtual ~Connection();

  // Called once, after registration, on the accepting thread: begin reading.
  virtual void start() = 0;
  // Shutdown asks the connection to end (at once, or after the work in flight).
  // Called from any thread: post to the connection's executor.
  virtual void stop() = 0;

 private:
  friend class Listener;
  std::weak_ptr<Listener> listener_;
};

struct ListenerOptions {
  std::string name = "tcp";  // starts its log lines: "http", "rtmp"
  // Connections open at once; one more is closed as soon as it is accepted.
  std::size_t max_connections = std::numeric_limits<std::size_t>::max();
  // Connections open at once from one peer address (the TCP peer's: behind a
  // proxy, the proxy's); one more is closed as soon as it is accepted, so one
  // client cannot take every slot of max_connections.
  std::size_t max_per_address = std::numeric_limits<std::size_t>::max();
  // After a failed accept (EMFILE, ENFILE, ENOBUFS): the pending connection is
  // still in the backlog, so accepting again at once fails again, at once.
  std::chrono::milliseconds accept_error_pause{100};
  // While accepting keeps failing, one log line per this long, with the count.
  std::chrono::seconds accept_error_log_interval{10};
  // Peers the per-address cap does not apply to: trusted proxies, whose
  // connections carry many clients (they still count towards max_connections).
  std::function<bool(const boost::asio::ip::address&)> uncapped_address{};
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // Makes the session for an accepted socket. Its executor serializes the
  // session's handlers: a strand of its own, or a single-threaded event loop.
  using Factory = std::function<std::shared_ptr<Connection>(boost::asio::ip::tcp::socket&&)>;

  // Accepts on `ioc`. Each connection gets a new strand of `ioc`, or, with
  // `loops`, the next of those event loops (which must outlive the connections).
  Listener(boost::asio::io_context& ioc, ListenerOptions options, Factory make_connection,
           EventLoops* loops = nullptr);

  // Binds and starts accepting; throws std::system_error if the address is unusable.
  void listen(const boost::asio::ip::tcp::endpoint& endpoint);
  boost::asio::ip::tcp::endpoint local_endpoint() const;

  // Stops accepting and calls stop() on every connection still open. Thread-safe.
  void shutdown();

  // Connections registered and not yet destroyed.
  std::size_t connection_count() const;
  // Those of them from `address` (as the TCP peer).
  std::size_t connection_count(const boost::asio::ip::address& address) const;
  // Accepts that failed (not counting the ones shutdown cancelled).
  std::uint64_t accept_failures() const;

 private:
  friend class Connection;

  void do_accept();
  void on_accept(const boost::system::error_code& ec, boost::asio::ip::tcp::socket socket);
  void pause_after(const boost::system::error_code& ec);
  void accept(boost::asio::ip::tcp::socket socket);
  void forget(Connection* connection);

  boost::asio::io_context& ioc_;
  EventLoops* const loops_;
  const ListenerOptions options_;
  const Factory make_connection_;
  boost::asio::ip::tcp::acceptor acceptor_;  // on its own strand, with pause_timer_
  boost::asio::steady_timer pause_timer_;

  // On the acceptor's strand: the current run of failed accepts.
  std::uint64_t failures_in_a_row_ = 0;
  std::optional<std::chrono::steady_clock::time_point> last_failure_log_;
  std::atomic<std::uint64_t> accept_failures_{0};

  // Refusals at accept, one log line per interval each (a flood of connections
  // would otherwise write one line per connection).
  LogThrottle refused_total_log_;
  LogThrottle refused_address_log_;

  struct Registered {
    std::weak_ptr<Connection> connection;
    std::string address;  // the peer's, a key of per_address_; empty if unknown
  };
  mutable std::mutex mutex_;  // guards the three below; held only to add, drop or copy
  bool stopping_ = false;
  std::unordered_map<Connection*, Registered> connections_;
  std::unordered_map<std::string, std::size_t> per_address_;  // open connections by peer address
};

}  // namespace souk
