// The listener both servers share: accept, register, cap (in all and per address),
// pause on errors, shut down.
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
  error_code peer_ec;
  const auto peer = socket.remote_endpoint(peer_ec);
  // Unknown (the peer is already gone) or a trusted proxy: not counted per address.
  const bool counted = !peer_ec && !(options_.uncapped_address && options_.uncapped_address(peer.address()));
  const std::string address = counted ? peer.address().to_string() : std::string();
  enum class Refusal { none, total, per_address } refusal = Refusal::none;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    if (connections_.size() >= options_.max_connections) {
      refusal = Refusal::total;
    } else if (!address.empty()) {
      const auto at = per_address_.find(address);
      if (at != per_address_.end() && at->second >= options_.max_per_address) refusal = Refusal::per_address;
    }
  }
  if (refusal != Refusal::none) {
    // Counted and logged outside the lock, the line at most once per interval:
    // a flood of connections would otherwise write a line for each.
    const bool total = refusal == Refusal::total;
    count_refusal(options_.name + (total ? "_connections" : "_per_address"));
    auto& throttle = total ? refused_total_log_ : refused_address_log_;
    if (const auto suppressed = throttle.admit()) {
      log::warn(options_.name + (total ? " connection refused: too many connections"
                                       : " connection refused: too many connections from one address"),
                {{"max", static_cast<std::uint64_t>(total ? options_.max_connections : options_.max_per_address)},
                 {"remote", address},
                 {"suppressed", *suppressed}});
    }
    error_code ignored;
    socket.close(ignored);
    return;
  }
  // Made outside the lock: a session's constructor may do real work. The registry
  // only shrinks meanwhile (accepts run one at a time on this strand).
  auto connection = make_connection_(std::move(socket));
  connection->listener_ = weak_from_this();
  bool registered = false;
  {
    std::lock_guard lock(mutex_);
    registered = !stopping_;
    if (registered) {
      connections_.emplace(connection.get(), Registered{connection, address});
      if (!address.empty()) ++per_address_[address];
    }
  }
  // A connection refused by a shutdown that came meanwhile is destroyed here,
  // outside the lock (its destructor takes it).
  if (registered) connection->start();
}

void Listener::forget(Connection* connection) {
  std::lock_guard lock(mutex_);
  const auto it = connections_.find(connection);
  if (it == connections_.end()) return;
  if (!it->second.address.empty()) {
    // Dropped at zero, so the map holds only addresses with connections open.
    const auto at = per_address_.find(it->second.address);
    if (at != per_address_.end() && --at->second == 0) per_address_.erase(at);
  }
  connections_.erase(it);
}

void Listener::shutdown() {
  std::vector<std::shared_ptr<Connection>> open;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (const auto& [ptr, registered] : connections_) {
      if (auto c = registered.connection.lock()) open.push_back(std::move(c));
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

std::size_t Listener::connection_count(const net::ip::address& address) const {
  std::lock_guard lock(mutex_);
  const auto at = per_address_.find(address.to_string());
  return at == per_address_.end() ? 0 : at->second;
}

std::uint64_t Listener::accept_failures() const {
  return accept_failures_.load(std::memory_order_relaxed);
}

}  // namespace souk
