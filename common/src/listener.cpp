// The listener both servers share: accept, register, cap, pause on errors, shut down.
#include "souk/listener.hpp"

#include "souk/event_loops.hpp"
#include "souk/listen.hpp"
#include "souk/log.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <vector>

namespace souk {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

Connection::~Connection() {
  if (auto listener = listener_.lock()) listener->forget(this);
}

Listener::Listener(net::io_context& ioc, ListenerOptions options, Factory make_connection,
                   EventLoops* loops)
    : ioc_(ioc),
      loops_(loops),
      options_(std::move(options)),
      make_connection_(std::move(make_connection)),
      acceptor_(net::make_strand(ioc)),
      pause_timer_(acceptor_.get_executor()) {}

void Listener::listen(const tcp::endpoint& endpoint) {
  listen_on(acceptor_, endpoint);
  net::post(acceptor_.get_executor(), [self = shared_from_this()] { self->do_accept(); });
}

tcp::endpoint Listener::local_endpoint() const { return acceptor_.local_endpoint(); }

void Listener::do_accept() {
  // Each connection's handlers never run concurrently: it gets a strand of its
  // own, or an event loop that one thread runs.
  const net::any_io_executor executor =
      loops_ != nullptr ? net::any_io_executor(loops_->next().get_executor())
                        : net::any_io_executor(net::make_strand(ioc_));
  acceptor_.async_accept(executor,
                         [self = shared_from_this()](const error_code& ec, tcp::socket socket) {
                           self->on_accept(ec, std::move(socket));
                         });
}

void Listener::on_accept(const error_code& ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;  // shut down
  if (ec) return pause_after(ec);
  if (failures_in_a_row_ > 0) {
    log::info(options_.name + " accepting again", {{"failed_accepts", failures_in_a_row_}});
    failures_in_a_row_ = 0;
    last_failure_log_.reset();
  }
  accept(std::move(socket));
  do_accept();
}

// Out of descriptors (EMFILE) and the like: the connection stays in the backlog,
// so accepting again at once fails again at once, a busy loop writing a log line
// each turn. Pause, and let connections close meanwhile; log the first failure
// of a run and then one line per interval, not one per pause.
void Listener::pause_after(const error_code& ec) {
  accept_failures_.fetch_add(1, std::memory_order_relaxed);
  ++failures_in_a_row_;
  const auto now = std::chrono::steady_clock::now();
  if (!last_failure_log_ || now - *last_failure_log_ >= options_.accept_error_log_interval) {
    last_failure_log_ = now;
    log::warn(options_.name + " accept failed; pausing",
              {{"error", ec.message()},
               {"pause_ms", static_cast<std::int64_t>(options_.accept_error_pause.count())},
               {"failed_accepts", failures_in_a_row_}});
  }
  pause_timer_.expires_after(options_.accept_error_pause);
  pause_timer_.async_wait([self = shared_from_this()](const error_code& wait_ec) {
    if (wait_ec || !self->acceptor_.is_open()) return;  // shut down meanwhile
    self->do_accept();
  });
}

void Listener::accept(tcp::socket socket) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    if (connections_.size() >= options_.max_connections) {
      log::warn(options_.name + " connection refused: too many connections",
                {{"max", static_cast<std::uint64_t>(options_.max_connections)}});
      error_code ignored;
      socket.close(ignored);
      return;
    }
  }
  // Made outside the lock: a session's constructor may do real work. The registry
  // only shrinks meanwhile (accepts run one at a time on this strand).
  auto connection = make_connection_(std::move(socket));
  connection->listener_ = weak_from_this();
  bool registered = false;
  {
    std::lock_guard lock(mutex_);
    registered = !stopping_;
    if (registered) connections_.emplace(connection.get(), connection);
  }
  // A connection refused by a shutdown that came meanwhile is destroyed here,
  // outside the lock (its destructor takes it).
  if (registered) connection->start();
}

void Listener::forget(Connection* connection) {
  std::lock_guard lock(mutex_);
  connections_.erase(connection);
}

void Listener::shutdown() {
  std::vector<std::shared_ptr<Connection>> open;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (const auto& [ptr, weak] : connections_) {
      if (auto c = weak.lock()) open.push_back(std::move(c));
    }
  }
  net::post(acceptor_.get_executor(), [self = shared_from_this()] {
    error_code ignored;
    self->acceptor_.close(ignored);
    self->pause_timer_.cancel();
  });
  // Stopped outside the lock: a connection this releases last is destroyed here.
  for (const auto& c : open) c->stop();
}

std::size_t Listener::connection_count() const {
  std::lock_guard lock(mutex_);
  return connections_.size();
}

std::uint64_t Listener::accept_failures() const {
  return accept_failures_.load(std::memory_order_relaxed);
}

}  // namespace souk
