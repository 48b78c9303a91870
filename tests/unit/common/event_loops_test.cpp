// EventLoops (one io_context per thread) and the Listener placing connections on
// them: each connection's handlers run on one loop's thread, never on the
// accepting io_context's, and connections are spread over the loops.
#include "souk/event_loops.hpp"
#include "souk/listener.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using namespace std::chrono_literals;

// What handlers on other threads report, waited on by the test's thread.
class Seen {
 public:
  void add(std::size_t key, std::thread::id thread) {
    {
      std::lock_guard lock(mutex_);
      threads_[key].insert(thread);
      ++count_;
    }
    changed_.notify_all();
  }
  bool wait_for_count(std::size_t n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 5s, [&] { return count_ >= n; });
  }
  std::map<std::size_t, std::set<std::thread::id>> threads() {
    std::lock_guard lock(mutex_);
    return threads_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::size_t, std::set<std::thread::id>> threads_;
  std::size_t count_ = 0;
};

// Reports the thread each of its reads completes on, keyed by its number.
class Reporting : public souk::Connection, public std::enable_shared_from_this<Reporting> {
 public:
  Reporting(tcp::socket&& socket, std::size_t key, Seen& seen)
      : socket_(std::move(socket)), key_(key), seen_(seen) {}
  void start() override {
    net::post(socket_.get_executor(), [self = shared_from_this()] { self->do_read(); });
  }
  void stop() override {
    net::post(socket_.get_executor(), [self = shared_from_this()] {
      error_code ignored;
      self->socket_.close(ignored);
    });
  }

 private:
  void do_read() {
    socket_.async_read_some(net::buffer(buffer_), [self = shared_from_this()](error_code ec, std::size_t) {
      if (ec) return;
      self->seen_.add(self->key_, std::this_thread::get_id());
      self->do_read();
    });
  }
  tcp::socket socket_;
  std::size_t key_;
  Seen& seen_;
  std::array<char, 16> buffer_{};
};

}  // namespace

TEST_CASE("event loops: each runs on a thread of its own; next() takes them in turn") {
  souk::EventLoops loops(3);
  REQUIRE(loops.size() == 3);
  std::vector<net::io_context*> order;
  for (int i = 0; i < 6; ++i) order.push_back(&loops.next());
  CHECK(order[0] != order[1]);
  CHECK(order[1] != order[2]);
  CHECK(order[0] != order[2]);
  for (int i = 0; i < 3; ++i) CHECK(order[i] == order[i + 3]);

  loops.start();
  Seen seen;
  for (std::size_t i = 0; i < 6; ++i) {
    net::post(*order[i], [&seen, i] { seen.add(i % 3, std::this_thread::get_id()); });
  }
  REQUIRE(seen.wait_for_count(6));
  std::set<std::thread::id> all;
  for (const auto& [loop, threads] : seen.threads()) {
    CHECK(threads.size() == 1);  // both handlers posted to one loop ran on its one thread
    all.insert(threads.begin(), threads.end());
  }
  CHECK(all.size() == 3);
  CHECK(all.count(std::this_thread::get_id()) == 0);
  loops.stop();
  loops.join();
}

TEST_CASE("event loops: a listener runs each connection on one loop's thread, spread over the loops") {
  // The loops outlive the accepting io_context: an accept still pending there
  // when it is destroyed holds a socket made on a loop's io_context.
  souk::EventLoops loops(2);
  net::io_context ioc;  // accepts; run by this thread
  loops.start();
  Seen seen;
  std::size_t accepted = 0;  // on the acceptor's strand, which this thread runs
  auto listener = std::make_shared<souk::Listener>(
      ioc, souk::ListenerOptions{},
      [&](tcp::socket&& s) { return std::make_shared<Reporting>(std::move(s), accepted++, seen); },
      &loops);
  listener->listen({net::ip::make_address("127.0.0.1"), 0});

  constexpr std::size_t clients_count = 4;
  constexpr std::size_t writes = 3;
  std::vector<tcp::socket> clients;
  for (std::size_t i = 0; i < clients_count; ++i) {
    clients.emplace_back(ioc);
    clients.back().connect(listener->local_endpoint());
    // Accept this one before the next connects, so the keys follow the loops' turn.
    const auto end = std::chrono::steady_clock::now() + 5s;
    while (listener->connection_count() < i + 1 && std::chrono::steady_clock::now() < end) {
      ioc.restart();
      ioc.run_for(5ms);
    }
    REQUIRE(listener->connection_count() == i + 1);
  }
  for (std::size_t w = 0; w < writes; ++w) {
    for (auto& c : clients) {
      net::write(c, net::buffer("x", 1));
      std::this_thread::sleep_for(2ms);  // separate reads, not one of several bytes
    }
  }
  REQUIRE(seen.wait_for_count(clients_count));
  const auto threads = seen.threads();
  REQUIRE(threads.size() == clients_count);
  std::set<std::thread::id> used;
  for (const auto& [key, ids] : threads) {
    CHECK(ids.size() == 1);  // every read of one connection on the same thread
    used.insert(ids.begin(), ids.end());
  }
  CHECK(used.size() == 2);                            // both loops took connections
  CHECK(used.count(std::this_thread::get_id()) == 0);  // none ran on the accepting io_context
  CHECK(*threads.at(0).begin() == *threads.at(2).begin());  // in turn: 0 and 2 on one loop
  CHECK(*threads.at(1).begin() == *threads.at(3).begin());

  listener->shutdown();
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (listener->connection_count() > 0 && std::chrono::steady_clock::now() < end) {
    ioc.restart();
    ioc.run_for(5ms);
  }
  CHECK(listener->connection_count() == 0);
  loops.stop();
  loops.join();
}
